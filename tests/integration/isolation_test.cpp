// Replicas in worker processes, as a user runs them: `cserve run` with a config whose deployments
// have isolation: process. Crashes of every kind cost only their own calls; the serving process,
// the other applications and the other replicas never notice; the replica comes back.
#include <cserve/cserve.hpp>

#include "support/cli.hpp"
#include "support/http_client.hpp"
#include "support/oip_client.hpp"
#include "support/load.hpp"
#include "support/process.hpp"
#include "support/prometheus.hpp"
#include "support/wait.hpp"

#include "common/asio.hpp"

#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>
#include <string>
#include <thread>

namespace cserve {
namespace {

using namespace std::chrono_literals;
using test::HttpClient;

const std::string kApps = std::string(CSERVE_TEST_LIBS_DIR) + "/libisolation_apps.so";
const std::string kCounterLib = std::string(CSERVE_EXAMPLES_DIR) + "/libcounter_app.so";

// Sanitizer builds: a worker must die of the signal itself, not of the sanitizer's report (and
// an exit() must keep its status, not become a leak report's).
const std::string kWorkerEnv =
    "ASAN_OPTIONS=${ASAN_OPTIONS}:handle_segv=0:handle_abort=0:detect_leaks=0 "
    "TSAN_OPTIONS=${TSAN_OPTIONS}:handle_segv=0:handle_abort=0 ";

// `cserve run CONFIG` in the foreground, its log in a file; stopped with SIGTERM (a drain).
class Instance {
 public:
  explicit Instance(const std::string& yaml, const std::string& extra = "") {
    static std::atomic<int> n{0};
    dir_ = std::filesystem::temp_directory_path() /
           ("cserve_isolation_" + std::to_string(::getpid()) + "_" + std::to_string(n++));
    std::filesystem::create_directories(dir_);
    std::ofstream(dir_ / "serve.yaml") << yaml;
    log_path_ = (dir_ / "serve.log").string();
    process_ = std::make_unique<test::ChildProcess>(
        "/bin/sh", std::vector<std::string>{
                       "-c", kWorkerEnv + "exec " + std::string(CSERVE_BINARY) + " run " +
                                 (dir_ / "serve.yaml").string() +
                                 " --http-port 0 --admin-port 0 --cpus 8 " + extra + " 2>" + log_path_});
    port = process_->wait_for_port(60s);
    if (auto line = process_->wait_for_line("admin API on http://", 10s)) {
      admin_port = std::stoi(line->substr(line->rfind(':') + 1));
    }
    if (yaml.find("grpc_options:") != std::string::npos) {
      if (auto line = process_->wait_for_line("gRPC on ", 10s)) grpc_port = std::stoi(line->substr(line->rfind(':') + 1));
    }
  }
  ~Instance() {
    process_->signal(SIGTERM);
    if (!process_->wait_exit(60s)) process_->signal(SIGKILL);
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  pid_t pid() const { return process_->pid(); }
  void kill_now() { process_->signal(SIGKILL); }
  std::string log() const {
    std::ifstream in(log_path_);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  Json deployment_status(const std::string& app, const std::string& deployment) const {
    HttpClient admin(admin_port);
    Json s = Json::parse(admin.get("/api/serve/applications/").body);
    return s["applications"][app]["deployments"][deployment];
  }
  test::PromText metrics() const {
    HttpClient admin(admin_port);
    return test::parse_prometheus(admin.get("/metrics").body);
  }

  int port = -1;
  int admin_port = -1;
  int grpc_port = -1;

 private:
  std::filesystem::path dir_;
  std::string log_path_;
  std::unique_ptr<test::ChildProcess> process_;
};

std::string app_yaml(const std::string& name, const std::string& prefix, const std::string& import_path,
                     const std::string& deployment_yaml = "", const std::string& args = "") {
  std::string y = "  - name: " + name + "\n    route_prefix: " + prefix + "\n    import_path: " + import_path + "\n";
  if (!args.empty()) y += "    args: " + args + "\n";
  if (!deployment_yaml.empty()) y += "    deployments:\n" + deployment_yaml;
  return y;
}

// The pid a Fragile replica answers /ok from, once it answers (-1 if it never does).
long serving_pid(int port, const std::string& prefix) {
  long pid = -1;
  test::wait_until([&] {
    try {
      HttpClient c(port);
      auto r = c.get(prefix + "/ok");
      if (r.status != 200) return false;
      pid = Json::parse(r.body)["pid"].get<long>();
      return true;
    } catch (const std::exception&) {
      return false;
    }
  }, 20s);
  return pid;
}

bool process_gone(long pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  if (!stat) return true;
  std::string line;
  std::getline(stat, line);
  const auto close = line.rfind(')');
  return close != std::string::npos && close + 2 < line.size() && line[close + 2] == 'Z';  // a zombie
}

TEST(Isolation, ACrashingReplicaCostsOnlyItsOwnCallsAndComesBack) {
  const std::string fragile = "      - name: Fragile\n        isolation: process\n";
  Instance serve("applications:\n" + app_yaml("fragile", "/f", kApps + ":fragile", fragile) +
                 app_yaml("steady", "/s", kCounterLib + ":counter"));
  ASSERT_GT(serve.port, 0) << serve.log();
  ASSERT_GT(serve.admin_port, 0) << serve.log();
  const long first_pid = serving_pid(serve.port, "/f");
  ASSERT_GT(first_pid, 0) << serve.log();
  ASSERT_NE(first_pid, serve.pid());

  test::LoadGenerator load(serve.port, "/s", 4);
  load.start();
  struct Case {
    std::string path, cause;
  };
  const std::vector<Case> cases = {{"/f/crash", "was killed by SIGSEGV (signal 11)"},
                                   {"/f/abort", "was killed by SIGABRT (signal 6)"},
                                   {"/f/exit", "exited with status 3"},
                                   {"/f/crash", "was killed by SIGSEGV (signal 11)"}};
  long previous_pid = first_pid;
  for (const auto& c : cases) {
    HttpClient client(serve.port);
    auto r = client.get(c.path);
    EXPECT_EQ(r.status, 500) << c.path << ": " << r.body;
    Json body = Json::parse(r.body);
    EXPECT_EQ(body["code"], "REPLICA_DIED") << r.body;
    const std::string error = body["error"].get<std::string>();
    EXPECT_NE(error.find("replica Fragile#"), std::string::npos) << error;
    EXPECT_NE(error.find("(pid " + std::to_string(previous_pid) + ") " + c.cause), std::string::npos) << error;
    EXPECT_TRUE(test::wait_until([&] { return process_gone(previous_pid); }, 5s)) << "the worker was not reaped";
    const long pid = serving_pid(serve.port, "/f");  // the replacement serves
    ASSERT_GT(pid, 0) << serve.log();
    EXPECT_NE(pid, previous_pid);
    previous_pid = pid;
  }
  while (load.responses_so_far() < 200) std::this_thread::sleep_for(10ms);
  const test::LoadStats stats = load.stop();
  EXPECT_EQ(stats.failed(), 0) << "the other application noticed: " << stats.connection_errors << " connection errors";
  EXPECT_GT(stats.ok(), 0);

  Json d = serve.deployment_status("fragile", "Fragile");
  EXPECT_EQ(d["replica_restarts"], 4) << d.dump();
  EXPECT_NE(d["last_replica_exit"].get<std::string>().find("SIGSEGV"), std::string::npos) << d.dump();
  EXPECT_EQ(serve.metrics().value("cserve_deployment_replica_exits_total",
                                  {{"deployment", "Fragile"}, {"application", "fragile"}}),
            4);
  EXPECT_EQ(serve.deployment_status("steady", "Counter")["replica_restarts"], 0);
}

TEST(Isolation, CallsQueuedForADeadReplicaGoToTheOthers) {
  // Two replicas, one call at a time each: the crashing call holds its replica's only slot, so
  // the load's calls are queued or on the other replica, and none of them may fail.
  const std::string fragile =
      "      - name: Fragile\n        isolation: process\n        num_replicas: 2\n        max_ongoing_requests: 1\n";
  Instance serve("applications:\n" + app_yaml("fragile", "/f", kApps + ":fragile", fragile));
  ASSERT_GT(serve.port, 0) << serve.log();
  ASSERT_TRUE(test::wait_until([&] { return serve.deployment_status("fragile", "Fragile")["status"] == "HEALTHY"; }));
  test::LoadGenerator load(serve.port, "/f/ok", 4);
  load.start();
  for (int i = 0; i < 3; ++i) {
    HttpClient client(serve.port);
    auto r = client.get("/f/crash");
    EXPECT_EQ(r.status, 500) << r.body;
    EXPECT_NE(r.body.find("REPLICA_DIED"), std::string::npos) << r.body;
    ASSERT_TRUE(test::wait_until([&] {
      auto d = serve.deployment_status("fragile", "Fragile");
      return d["status"] == "HEALTHY" && d["replica_restarts"] == i + 1;
    }, 20s)) << serve.log();
  }
  while (load.responses_so_far() < 200) std::this_thread::sleep_for(10ms);
  const test::LoadStats stats = load.stop();
  EXPECT_EQ(stats.failed(), 0) << stats.connection_errors << " connection errors; by status: "
                               << Json(stats.by_status).dump();
  EXPECT_GT(stats.ok(), 0);
}

TEST(Isolation, AReplicaPastItsMemoryLimitIsKilledAndComesBack) {
  const std::string fragile =
      "      - name: Fragile\n        isolation: process\n        ray_actor_options: {memory: 268435456}\n";
  Instance serve("applications:\n" + app_yaml("fragile", "/f", kApps + ":fragile", fragile));
  ASSERT_GT(serve.port, 0) << serve.log();
  const long pid = serving_pid(serve.port, "/f");
  ASSERT_GT(pid, 0) << serve.log();
  // Its resident memory is reported while it runs.
  EXPECT_GT(serve.metrics().value("cserve_replica_worker_rss_bytes", {{"deployment", "Fragile"}}), 0);
  HttpClient c(serve.port);
  auto r = c.get("/f/grow");
  EXPECT_EQ(r.status, 500) << r.body;
  EXPECT_NE(r.body.find("(pid " + std::to_string(pid) + ") was killed by SIGKILL (signal 9): its resident memory ("),
            std::string::npos)
      << r.body;
  EXPECT_NE(r.body.find("passed the replica's memory limit (256 MiB)"), std::string::npos) << r.body;
  const long replacement = serving_pid(serve.port, "/f");
  EXPECT_GT(replacement, 0);
  EXPECT_NE(replacement, pid);
  EXPECT_NE(serve.deployment_status("fragile", "Fragile")["last_replica_exit"].get<std::string>().find("memory limit"),
            std::string::npos);
}

TEST(Isolation, AStuckHandlerIsKilledAfterFailedHealthChecksAndItsCallFails) {
  const std::string fragile =
      "      - name: Fragile\n        isolation: process\n        health_check_period_s: 0.2\n"
      "        health_check_timeout_s: 0.5\n";
  Instance serve("applications:\n" + app_yaml("fragile", "/f", kApps + ":fragile", fragile));
  ASSERT_GT(serve.port, 0) << serve.log();
  const long stuck_pid = serving_pid(serve.port, "/f");
  ASSERT_GT(stuck_pid, 0);
  HttpClient hung(serve.port);
  auto r = hung.get("/f/hang");  // returns once the stuck worker is killed
  EXPECT_EQ(r.status, 500) << r.body;
  EXPECT_NE(r.body.find("(pid " + std::to_string(stuck_pid) + ") was killed by SIG"), std::string::npos) << r.body;
  EXPECT_TRUE(test::wait_until([&] { return process_gone(stuck_pid); }, 5s));
  const long pid = serving_pid(serve.port, "/f");
  EXPECT_GT(pid, 0);
  EXPECT_NE(pid, stuck_pid);
  EXPECT_GE(serve.deployment_status("fragile", "Fragile")["health_check_replacements"], 1);
}

TEST(Isolation, WorkersDoNotOutliveAKilledServingProcess) {
  const std::string fragile = "      - name: Fragile\n        isolation: process\n        num_replicas: 2\n";
  auto serve = std::make_unique<Instance>("applications:\n" + app_yaml("fragile", "/f", kApps + ":fragile", fragile));
  ASSERT_GT(serve->port, 0) << serve->log();
  std::set<long> workers;
  ASSERT_TRUE(test::wait_until([&] {
    const long pid = serving_pid(serve->port, "/f");
    if (pid > 0) workers.insert(pid);
    return workers.size() == 2;
  }, 20s));
  serve->kill_now();
  for (long pid : workers) {
    EXPECT_TRUE(test::wait_until([&] { return process_gone(pid); }, 1s)) << "worker " << pid << " outlived it";
  }
}

TEST(Isolation, RollingRedeployOfAnIsolatedDeploymentLosesNoRequest) {
  const std::string fragile = "      - name: Fragile\n        isolation: process\n        num_replicas: 2\n"
                              "        graceful_shutdown_wait_loop_s: 0.1\n";
  Instance serve("applications:\n" + app_yaml("fragile", "/f", kApps + ":fragile", fragile, "{tag: v1}"));
  ASSERT_GT(serve.port, 0) << serve.log();
  ASSERT_GT(serving_pid(serve.port, "/f"), 0);
  test::LoadGenerator load(serve.port, "/f/ok", 4);
  load.start();
  while (load.responses_so_far() < 100) std::this_thread::sleep_for(5ms);
  // The same config with other builder arguments: a new version, rolled out replica by replica.
  const std::string v2 = "applications:\n" + app_yaml("fragile", "/f", kApps + ":fragile", fragile, "{tag: v2}");
  const std::string path = (std::filesystem::temp_directory_path() /
                            ("cserve_isolation_v2_" + std::to_string(::getpid()) + ".yaml")).string();
  std::ofstream(path) << v2;
  auto deployed = test::run_cli("deploy " + path + " --address http://127.0.0.1:" + std::to_string(serve.admin_port));
  EXPECT_EQ(deployed.code, 0) << deployed.output;
  EXPECT_TRUE(test::wait_until([&] {
    auto d = serve.deployment_status("fragile", "Fragile");
    return d["status"] == "HEALTHY" && d["replicas"].size() == 2;
  }, 30s));
  HttpClient c(serve.port);
  EXPECT_EQ(Json::parse(c.get("/f/ok").body)["tag"], "v2");
  const long during = load.responses_so_far();
  while (load.responses_so_far() < during + 100) std::this_thread::sleep_for(5ms);
  const test::LoadStats stats = load.stop();
  std::filesystem::remove(path);
  EXPECT_EQ(stats.failed(), 0) << stats.connection_errors << " connection errors";
  EXPECT_GT(stats.ok(), 0);
}

TEST(Isolation, CallsStreamsAndBytesCrossTheBoundary) {
  const std::string model = "      - name: Model\n        isolation: process\n";
  const std::string fragile = "      - name: Fragile\n        isolation: process\n";
  Instance serve("applications:\n" + app_yaml("composed", "/c", kApps + ":composed", model) +
                 app_yaml("fragile", "/f", kApps + ":fragile", fragile));
  ASSERT_GT(serve.port, 0) << serve.log();
  ASSERT_GT(serving_pid(serve.port, "/f"), 0) << serve.log();
  HttpClient c(serve.port);

  // An in-process ingress calls the isolated model by name through a handle.
  auto r = c.get("/c/?x=2");
  ASSERT_EQ(r.status, 200) << r.body;
  Json j = Json::parse(r.body);
  EXPECT_EQ(j["scaled"], Json::parse("[20.0, 30.0]"));
  EXPECT_EQ(j["front_pid"], serve.pid());
  EXPECT_NE(j["model_pid"], serve.pid());

  // A handler's stream, item by item across processes.
  r = c.get("/f/stream?n=5");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, "item 0\nitem 1\nitem 2\nitem 3\nitem 4\n");

  // Bytes as they are (every byte value, 1 MiB).
  std::string bytes(1 << 20, '\0');
  for (std::size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>((i * 131) & 0xff);
  r = c.request("POST", "/f/echo", bytes);
  ASSERT_EQ(r.status, 200);
  EXPECT_TRUE(r.body == bytes) << "the body changed on its way (" << r.body.size() << " bytes back)";

  // What the user's code prints reaches the log with the replica's id.
  r = c.get("/f/print");
  ASSERT_EQ(r.status, 200);
  EXPECT_TRUE(test::wait_until([&] {
    const std::string log = serve.log();
    const auto at = log.find("printed by the user's code in pid");
    return at != std::string::npos && log.rfind("replica=Fragile#", at) != std::string::npos;
  }, 5s)) << serve.log();
}

// Where the caller and the deployment it calls run: in the serving process or in workers.
struct Placement {
  std::string caller, callee;  // "thread" or "process"
  std::string name() const { return "caller " + caller + ", callee " + callee; }
  bool crosses() const { return caller == "process" || callee == "process"; }
};
const Placement kPlacements[] = {{"thread", "thread"}, {"thread", "process"}, {"process", "thread"}, {"process", "process"}};

std::string deployments_yaml(const std::string& caller, const std::string& callee, const Placement& p,
                             const std::string& callee_extra = "") {
  return "      - name: " + caller + "\n        isolation: " + p.caller + "\n      - name: " + callee +
         "\n        isolation: " + p.callee + "\n" + callee_extra;
}

TEST(Isolation, TypedHandleCallsCrossWithCodecs) {
  // The same application with the caller and the model in-process or isolated, in every
  // combination: the same answers, except that a method missing from the methods() hook can only
  // be called within one process.
  for (const Placement& p : kPlacements) {
    SCOPED_TRACE(p.name());
    Instance serve("applications:\n" +
                   app_yaml("typed", "/t", kApps + ":typed", deployments_yaml("TypedFront", "TypedModel", p)));
    ASSERT_GT(serve.port, 0) << serve.log();
    HttpClient c(serve.port);
    auto r = c.get("/t/");
    ASSERT_EQ(r.status, 200) << r.body;
    Json j = Json::parse(r.body);
    EXPECT_EQ(j["doubled"], 42.0);                                   // the call operator
    EXPECT_EQ(j["inverted"], Json::parse("[3, [-1, -2, 0]]"));       // a type with only a Codec
    EXPECT_EQ(j["sum"], 6);                                          // a Task result
    EXPECT_EQ(j["refused"], Json::parse(R"([1, "refused: no reason"])"));  // an Error's code and text
    if (p.crosses()) {
      EXPECT_EQ(j["unregistered"][0], 1);
      EXPECT_NE(j["unregistered"][1].get<std::string>().find("not registered in its static methods"),
                std::string::npos)
          << j.dump();
    } else {
      EXPECT_TRUE(j["unregistered"].is_null() || j["unregistered"][0] == 0) << j.dump();
    }
  }
}

TEST(Isolation, AnIsolatedReplicaCallsOtherDeploymentsThroughHandles) {
  // The composed application's ingress in a worker calls the model by name, in-process or in a
  // worker of its own; the ids of the three processes tell where each part ran.
  for (const std::string model : {"thread", "process"}) {
    SCOPED_TRACE("model " + model);
    Instance serve("applications:\n" + app_yaml("composed", "/c", kApps + ":composed",
                                                deployments_yaml("Front", "Model", {"process", model})));
    ASSERT_GT(serve.port, 0) << serve.log();
    HttpClient c(serve.port);
    for (int i = 0; i < 20; ++i) {  // a few rounds: the calls share the worker's connection
      auto r = c.get("/c/?x=" + std::to_string(i));
      ASSERT_EQ(r.status, 200) << r.body;
      Json j = Json::parse(r.body);
      EXPECT_EQ(j["scaled"], Json::array({10.0 * i, 10.0 * (i + 1)}));
      EXPECT_NE(j["front_pid"], serve.pid());
      if (model == "process") {
        EXPECT_NE(j["model_pid"], serve.pid());
        EXPECT_NE(j["model_pid"], j["front_pid"]);
      } else {
        EXPECT_EQ(j["model_pid"], serve.pid());
      }
    }
  }
}

// Reads a chunked answer from a raw connection until `until` appears in it (or the answer ends,
// or 10 s pass); the connection closes when this returns: the client goes away.
std::string read_until(int port, const std::string& target, const std::string& until) {
  asio::io_context io;
  asio::ip::tcp::socket socket(io);
  socket.connect({asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)});
  asio::write(socket, asio::buffer("GET " + target + " HTTP/1.1\r\nHost: x\r\n\r\n"));
  std::string all;
  char buf[4096];
  const auto give_up = std::chrono::steady_clock::now() + 10s;
  while (all.find(until) == std::string::npos && all.find("0\r\n\r\n") == std::string::npos &&
         std::chrono::steady_clock::now() < give_up) {
    boost::system::error_code ec;
    const std::size_t n = socket.read_some(asio::buffer(buf), ec);
    if (ec) break;
    all.append(buf, n);
  }
  return all;
}

TEST(Isolation, StreamsThroughHandlesCrossTheBoundary) {
  // The same application with the relaying ingress and the model in-process or isolated, in every
  // combination: the same answers.
  for (const Placement& p : kPlacements) {
    SCOPED_TRACE(p.name());
    // One call at a time on the model, and a request timeout: a slot a stream fails to give back
    // turns the next call into a 408.
    Instance serve("http_options:\n  request_timeout_s: 5\napplications:\n" +
                   app_yaml("streams", "/s", kApps + ":streams",
                            deployments_yaml("StreamFront", "Tokens", p, "        max_ongoing_requests: 1\n")));
    ASSERT_GT(serve.port, 0) << serve.log();
    HttpClient c(serve.port);
    auto r = c.get("/s/typed?n=5");  // a typed stream of strings: raw bytes per item
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.body, "t0\nt1\nt2\nt3\nt4\n");
    r = c.get("/s/named?n=3");  // by name: items as JSON
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.body, "\"t0\"\n\"t1\"\n\"t2\"\n");
    r = c.get("/s/images?n=4");  // items of a type with only a Codec
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.body, "0:0\n1:1\n2:2\n3:3\n");
    r = c.get("/s/typed?n=0");  // an empty stream
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.body, "");
    r = c.get("/s/failing");  // the generator's error reaches the consumer after its first item
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.body.substr(0, 2), "1\n") << r.body;
    EXPECT_NE(r.body.find("the generator failed after one item"), std::string::npos) << r.body;

    // A client that goes away mid-stream stops the generator in the model (and frees its slot).
    const std::string seen = read_until(serve.port, "/s/typed?n=-1", "t3\n");
    ASSERT_NE(seen.find("t3\n"), std::string::npos) << seen;
    EXPECT_TRUE(test::wait_until([&] { return c.get("/s/alive").body == "0"; }, 10s))
        << "a generator is still alive after its consumer went away: " << c.get("/s/alive").body;
    r = c.get("/s/typed?n=2");  // and its slot is free for the next stream
    EXPECT_EQ(r.status, 200);
    EXPECT_EQ(r.body, "t0\nt1\n");
  }
}

TEST(Isolation, AModelInAWorkerServesTheInferenceProtocol) {
  Instance serve("grpc_options:\n  port: 0\napplications:\n" +
                 app_yaml("models", "/models", kApps + ":model", "      - name: Scaler\n        isolation: process\n"));
  ASSERT_GT(serve.port, 0) << serve.log();
  HttpClient c(serve.port);
  ASSERT_TRUE(test::wait_until([&] { return c.get("/v2/models/scaler/ready").status == 200; }, 20s)) << serve.log();
  auto r = c.get("/v2/models/scaler");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Json::parse(r.body)["inputs"][0]["name"], "x");
  r = c.request("POST", "/v2/models/scaler/infer",
                R"({"inputs": [{"name": "x", "shape": [3], "datatype": "FP32", "data": [1, 2, 0.5]}]})");
  ASSERT_EQ(r.status, 200) << r.body;
  Json j = Json::parse(r.body);
  EXPECT_EQ(j["outputs"][0]["data"], Json::parse("[3, 6, 1.5]"));
  EXPECT_NE(j["outputs"][1]["data"][0], serve.pid());  // it ran in the worker
  // The checks run in the worker too, and their errors cross as they are.
  r = c.request("POST", "/v2/models/scaler/infer",
                R"({"inputs": [{"name": "x", "shape": [1], "datatype": "INT8", "data": [1]}]})");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.body.find("input 'x': datatype INT8, the model takes FP32"), std::string::npos) << r.body;

  // The same model over gRPC (the config's grpc_options turned it on).
  ASSERT_GT(serve.grpc_port, 0) << serve.log();
  const std::string hex = test::hex_of_values(std::vector<float>{1, 2, 0.5f});
  Json infer{{"op", "infer"}, {"model", "scaler"},
             {"inputs", Json::array({{{"name", "x"}, {"datatype", "FP32"}, {"shape", {3}}, {"raw", hex}}})}};
  Json bad = infer;
  bad["inputs"][0]["datatype"] = "INT8";
  bad["inputs"][0]["shape"] = {12};  // the same 12 bytes: the datatype is what is wrong
  Json g = test::run_oip_client(serve.grpc_port, Json::array({infer, bad}));
  ASSERT_EQ(g.size(), 2u);
  ASSERT_EQ(g[0]["code"], "OK") << g[0];
  EXPECT_EQ(g[0]["outputs"][0]["name"], j["outputs"][0]["name"]);
  EXPECT_EQ(g[0]["raw"][0], test::hex_of_values(std::vector<float>{3, 6, 1.5f}));
  EXPECT_EQ(g[1]["code"], "INVALID_ARGUMENT");
  EXPECT_NE(g[1]["details"].get<std::string>().find("input 'x': datatype INT8, the model takes FP32"),
            std::string::npos)
      << g[1];

  // The serving process counted the worker's inferences, both protocols.
  const test::PromText m = serve.metrics();
  EXPECT_EQ(m.sum("cserve_model_inference_requests_total", {{"model", "scaler"}, {"protocol", "rest"}}), 2);
  EXPECT_EQ(m.sum("cserve_model_inference_requests_total", {{"model", "scaler"}, {"protocol", "grpc"}}), 2);
  EXPECT_EQ(m.sum("cserve_model_inference_failures_total", {{"model", "scaler"}, {"code", "INVALID_ARGUMENT"}}), 2);
  EXPECT_EQ(m.sum("cserve_model_inference_compute_latency_ms_count", {{"model", "scaler"}}), 4);
}

TEST(Isolation, MultiplexedModelsInWorkersAreLoadedOnceAndRoutedToTheWorkerThatHoldsThem) {
  Instance serve("applications:\n" + app_yaml("mux", "/mux", kApps + ":multiplexed",
                                              "      - name: PidModels\n        isolation: process\n"));
  ASSERT_GT(serve.port, 0) << serve.log();
  auto post = [&](HttpClient& c, const std::string& model) {
    return c.request("POST", "/mux", "2", {{"serve_multiplexed_model_id", model}});
  };
  HttpClient c(serve.port);
  ASSERT_TRUE(test::wait_until([&] { return post(c, "m1").status == 200; }, 20s)) << serve.log();
  // Concurrent first requests for another model: all to one worker (the one holding no model),
  // which loads it once.
  std::vector<std::thread> clients;
  std::mutex mu;
  std::set<long> pids;
  int max_loads = 0, failed = 0;
  for (int t = 0; t < 12; ++t) {
    clients.emplace_back([&] {
      HttpClient own(serve.port);
      auto r = post(own, "m3");
      std::lock_guard lock(mu);
      if (r.status != 200) {
        ++failed;
        return;
      }
      Json j = Json::parse(r.body);
      EXPECT_EQ(j["value"], 6);
      pids.insert(j["pid"].get<long>());
      max_loads = std::max(max_loads, j["loads"].get<int>());
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(failed, 0);
  EXPECT_EQ(pids.size(), 1u) << "the first request named the worker for m3; the others followed it";
  EXPECT_EQ(max_loads, 1) << "that worker loaded m3 once";
  EXPECT_FALSE(pids.count(serve.pid()));
  // Each worker reports the models it holds (the MODELS frame); with two per replica, a fifth
  // model evicts one, and the report drops it.
  for (const char* m : {"m5", "m7", "m9"}) ASSERT_EQ(post(c, m).status, 200) << m;
  std::string seen;
  EXPECT_TRUE(test::wait_until([&] {
    Json replicas = serve.deployment_status("mux", "PidModels")["replicas"];
    std::set<std::string> all;
    bool within = replicas.size() == 2;
    for (const auto& r : replicas) {
      within = within && r["multiplexed_model_ids"].size() <= 2;
      for (const auto& id : r["multiplexed_model_ids"]) all.insert(id.get<std::string>());
    }
    seen = replicas.dump();
    return within && all.size() == 4 && all.count("m9") == 1;
  }, 10s)) << seen;
}

TEST(Isolation, ProcessIsolationOfAnApplicationBuiltInCodeIsAClearError) {
  struct Plain {
    Json operator()() { return "hi"; }
  };
  ServeOptions options;
  options.http_enabled = false;
  auto serve = start(options);
  try {
    serve.run(deployment<Plain>().isolation(Isolation::kProcess).bind());
    FAIL() << "it ran";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("needs its application in a library"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace cserve
