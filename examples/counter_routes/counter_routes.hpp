// The seed's second Counter: three routes on one stateful class (FastAPI-style).
#pragma once

#include <cserve/cserve.hpp>

class RoutedCounter {
 public:
  static void routes(cserve::Routes<RoutedCounter>& r) {
    r.get("/", &RoutedCounter::get).get("/incr", &RoutedCounter::incr).get("/decr", &RoutedCounter::decr);
  }
  cserve::Json get() { return {{"count", count_}}; }
  cserve::Json incr() { return {{"count", ++count_}}; }
  cserve::Json decr() { return {{"count", --count_}}; }

 private:
  int count_ = 0;
};
