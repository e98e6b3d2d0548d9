// worker_host.hpp — `cserve worker`: the process that hosts one replica behind the wire protocol
// (docs/wire.md). The serving process starts it (src/worker/process_launcher.hpp) with one end of
// a Unix socket pair as fd 3; the worker loads the application library, builds the deployment's
// user object when it is told to (__start__), runs the calls that arrive, and exits when told to
// stop (__stop__) or when the serving process goes away (the connection ends, or the parent-death
// signal kills it).
// Thread-safety: run_worker is called once, from main.
#pragma once

#include <cserve/json.hpp>
#include <cserve/resources.hpp>

#include <string>
#include <vector>

namespace cserve {

struct WorkerArgs {
  long parent_pid = 0;       // the serving process: the worker dies with it
  std::string library;       // the application library
  std::string application;   // its CSERVE_APPLICATION name
  Json args = Json::object();  // the builder's arguments
  std::string app_name;      // the application's name in the serving process
  std::string deployment;
  std::string replica_id;
  std::vector<int> gpu_ids;  // CUDA_VISIBLE_DEVICES
  Resources resources;
};

// Serves until told to stop or orphaned; returns the process's exit status.
int run_worker(const WorkerArgs& args);

}  // namespace cserve
