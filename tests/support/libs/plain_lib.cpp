// A shared library that is not a cserve application (no CSERVE_APPLICATION): loading it as one
// must fail with a message.
extern "C" int plain_lib_answer() { return 42; }
