// cserve/cserve.hpp — the umbrella header: everything a cserve user includes.
#pragma once

#include <cserve/autoscaling.hpp>
#include <cserve/deployment.hpp>
#include <cserve/handle.hpp>
#include <cserve/batching.hpp>
#include <cserve/error.hpp>
#include <cserve/http.hpp>
#include <cserve/inference.hpp>
#include <cserve/json.hpp>
#include <cserve/logging.hpp>
#include <cserve/methods.hpp>
#include <cserve/metrics.hpp>
#include <cserve/multiplex.hpp>
#include <cserve/replica_context.hpp>
#include <cserve/resources.hpp>
#include <cserve/routes.hpp>
#include <cserve/serve.hpp>
#include <cserve/status.hpp>
#include <cserve/stream.hpp>
#include <cserve/task.hpp>
