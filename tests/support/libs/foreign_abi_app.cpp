// An application library that claims another cserve ABI, as one built against another cserve
// release or compiler would: loading it must fail with a message, not crash.
#include <cserve/application.hpp>

class Nothing {
 public:
  cserve::Json operator()() { return nullptr; }
};

CSERVE_APPLICATION(app, args) {
  (void)args;
  return cserve::deployment<Nothing>().bind();
}
// (foreign_abi_tag.cpp overrides the ABI tag this header defines weakly.)
