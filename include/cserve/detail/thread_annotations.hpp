// cserve/detail/thread_annotations.hpp — Clang's thread-safety attributes, so that lock contracts
// are checked by the compiler (the clang-tsa preset builds with -Wthread-safety -Werror). Other
// compilers see nothing. Use them through cserve::detail::Mutex (mutex.hpp):
//
//   Mutex mu_;
//   int count_ CSERVE_GUARDED_BY(mu_) = 0;           // read or written only under mu_
//   void bump_locked() CSERVE_REQUIRES(mu_);          // callers hold mu_
//   void publish() CSERVE_EXCLUDES(mu_);              // callers must not hold mu_
//
// Thread-safety: macros only.
#pragma once

#if defined(__clang__)
#define CSERVE_THREAD_ANNOTATION(x) __attribute__((x))
#else
#define CSERVE_THREAD_ANNOTATION(x)
#endif

#define CSERVE_CAPABILITY(name) CSERVE_THREAD_ANNOTATION(capability(name))
#define CSERVE_SCOPED_CAPABILITY CSERVE_THREAD_ANNOTATION(scoped_lockable)
#define CSERVE_GUARDED_BY(mu) CSERVE_THREAD_ANNOTATION(guarded_by(mu))
#define CSERVE_PT_GUARDED_BY(mu) CSERVE_THREAD_ANNOTATION(pt_guarded_by(mu))
#define CSERVE_REQUIRES(...) CSERVE_THREAD_ANNOTATION(requires_capability(__VA_ARGS__))
#define CSERVE_EXCLUDES(...) CSERVE_THREAD_ANNOTATION(locks_excluded(__VA_ARGS__))
#define CSERVE_ACQUIRE(...) CSERVE_THREAD_ANNOTATION(acquire_capability(__VA_ARGS__))
#define CSERVE_RELEASE(...) CSERVE_THREAD_ANNOTATION(release_capability(__VA_ARGS__))
#define CSERVE_TRY_ACQUIRE(...) CSERVE_THREAD_ANNOTATION(try_acquire_capability(__VA_ARGS__))
#define CSERVE_ASSERT_CAPABILITY(x) CSERVE_THREAD_ANNOTATION(assert_capability(x))
#define CSERVE_RETURN_CAPABILITY(x) CSERVE_THREAD_ANNOTATION(lock_returned(x))
#define CSERVE_NO_THREAD_SAFETY_ANALYSIS CSERVE_THREAD_ANNOTATION(no_thread_safety_analysis)
