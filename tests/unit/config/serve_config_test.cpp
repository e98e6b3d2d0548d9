// The config schema: what is accepted, and errors that name the field and its line.
#include "config/serve_config.hpp"

#include <cserve/error.hpp>

#include <gtest/gtest.h>

namespace cserve {
namespace {

std::string error_of(const std::string& yaml) {
  try {
    parse_yaml_config(yaml, "serve.yaml");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "no error";
}

TEST(ServeConfig, ReadsRaysSchema) {
  auto c = parse_yaml_config(R"(
http_options:
  host: 127.0.0.1
  port: 8000
  request_timeout_s: 2.5
logging_config: {log_level: INFO, encoding: JSON, enable_access_log: true}
applications:
  - name: counter
    route_prefix: /Counter
    import_path: ./libapp.so:counter
    args: {start: 10, label: "007"}
    deployments:
      - name: Counter
        num_replicas: auto
        user_config: {step: 2}
        ray_actor_options: {num_cpus: 0.5, resources: {tpu: 1}}
)",
                             "serve.yaml");
  ASSERT_EQ(c.applications.size(), 1u);
  EXPECT_EQ(c.applications[0].args["start"], 10);
  EXPECT_EQ(c.applications[0].args["label"], "007");  // quoted: stays a string
  EXPECT_EQ(c.applications[0].deployments[0]["num_replicas"], "auto");
  ServeOptions o = apply_runtime_options(c, {});
  EXPECT_EQ(o.http.port, 8000);
  EXPECT_EQ(*o.http.request_timeout_s, 2.5);
  EXPECT_EQ(*o.logging.encoding, "JSON");
  EXPECT_TRUE(*o.logging.enable_access_log);
}

TEST(ServeConfig, ErrorsNameTheFieldAndLine) {
  EXPECT_EQ(error_of("applications:\n  - name: a\n    import_path: x.so:a\n    replicas: 2\n"),
            "serve.yaml:4: applications[0].replicas: unknown key 'replicas' (known: args, deployments, "
            "import_path, library_sha256, name, route_prefix)");
  EXPECT_EQ(error_of("applications:\n  - name: a\n    import_path: x.so:a\n    deployments:\n      - name: A\n"
                     "        max_ongoing_requests: many\n"),
            "serve.yaml:6: applications[0].deployments[0].max_ongoing_requests: must be an integer");
  EXPECT_EQ(error_of("applications:\n  - name: a\n    import_path: x.so:a\n    deployments:\n      - name: A\n"
                     "        max_replicas_per_node: 0\n"),
            "serve.yaml:6: applications[0].deployments[0].max_replicas_per_node: must be >= 1");
  EXPECT_EQ(error_of("applications:\n  - import_path: x.so:a\n"), "serve.yaml:2: applications[0]: an application needs a name");
  EXPECT_EQ(error_of("applications:\n  - name: a\n    import_path: x.so\n"),
            "serve.yaml:3: applications[0].import_path: must be 'path/to/library.so:application'");
  EXPECT_NE(error_of("applications: [\n").find("serve.yaml:"), std::string::npos);
  EXPECT_NE(error_of("applications:\n  - {name: a, import_path: x.so:a}\n  - {name: b, import_path: x.so:b}\n")
                .find("route_prefix '/' is used by two applications"),
            std::string::npos);
  EXPECT_NE(error_of("http_options: {port: 70000}\napplications: []\n").find("http_options.port: must be <= 65535"),
            std::string::npos);
  EXPECT_NE(error_of("logging_config: {encoding: XML}\napplications: []\n").find("must be TEXT or JSON"),
            std::string::npos);
}

TEST(ServeConfig, AGrpcOptionsSectionTurnsGrpcOn) {
  ServeOptions off = apply_runtime_options(parse_yaml_config("applications: []\n", "serve.yaml"), {});
  EXPECT_FALSE(off.grpc.enabled);
  ServeOptions defaults = apply_runtime_options(parse_yaml_config("grpc_options: {}\napplications: []\n", "serve.yaml"), {});
  EXPECT_TRUE(defaults.grpc.enabled);
  EXPECT_EQ(defaults.grpc.port, 9000);
  ServeOptions set = apply_runtime_options(
      parse_yaml_config("grpc_options:\n  host: 0.0.0.0\n  port: 9100\n  max_message_bytes: 1048576\napplications: []\n",
                        "serve.yaml"),
      {});
  EXPECT_TRUE(set.grpc.enabled);
  EXPECT_EQ(set.grpc.host, "0.0.0.0");
  EXPECT_EQ(set.grpc.port, 9100);
  EXPECT_EQ(set.grpc.max_message_bytes, 1u << 20);
  EXPECT_EQ(error_of("grpc_options:\n  port: 70000\napplications: []\n"), "serve.yaml:2: grpc_options.port: must be <= 65535");
  EXPECT_EQ(error_of("grpc_options:\n  max_message_bytes: 0\napplications: []\n"),
            "serve.yaml:2: grpc_options.max_message_bytes: must be >= 1");
  EXPECT_EQ(error_of("grpc_options:\n  grpc_servicer_functions: [a.b]\napplications: []\n"),
            "serve.yaml:2: grpc_options.grpc_servicer_functions: unknown key 'grpc_servicer_functions' (known: host, "
            "max_message_bytes, port)");
}

TEST(ServeConfig, JsonConfigsNameTheFieldWithoutALine) {
  try {
    parse_json_config(Json::parse(R"({"applications": [{"name": "a", "import_path": "x.so:a", "deployments": [{"name": "A", "num_replicas": "many"}]}]})"));
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(), "applications[0].deployments[0].num_replicas: must be an integer >= 0 or \"auto\"");
  }
}

// Cluster mode: the node that receives a config names each library by its SHA-256.
TEST(ServeConfig, ALibrarysHashIsKeptAndMustBeASha256) {
  const std::string sha(64, 'a');
  const ServeConfig c = parse_json_config(Json::parse(
      R"({"applications": [{"name": "a", "import_path": "x.so:a", "library_sha256": ")" + sha + R"("}]})"));
  EXPECT_EQ(c.source["applications"][0]["library_sha256"], sha);
  try {
    parse_json_config(Json::parse(R"({"applications": [{"name": "a", "import_path": "x.so:a", "library_sha256": "ABC"}]})"));
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(), "applications[0].library_sha256: must be the SHA-256 of the library: 64 lowercase hex digits");
  }
}

}  // namespace
}  // namespace cserve
