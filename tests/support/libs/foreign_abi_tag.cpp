// The tag of another cserve ABI. A strong definition: it wins over the weak one that
// cserve/application.hpp gives foreign_abi_app.cpp.
extern "C" const char* cserve_abi_v1() { return "cserve-abi-0 gcc-4.8 cxx-201103"; }
