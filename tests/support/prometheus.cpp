#include "support/prometheus.hpp"

#include <cctype>
#include <cstdlib>
#include <sstream>
#include <stdexcept>

namespace cserve::test {
namespace {

bool valid_name(const std::string& n) {
  if (n.empty() || std::isdigit(static_cast<unsigned char>(n[0]))) return false;
  for (char c : n) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == ':')) return false;
  }
  return true;
}

double parse_value(const std::string& v, const std::string& line) {
  if (v == "+Inf") return 1e308 * 10;
  if (v == "-Inf") return -1e308 * 10;
  if (v == "NaN") return 0.0 / 0.0;
  char* end = nullptr;
  double d = std::strtod(v.c_str(), &end);
  if (v.empty() || *end != '\0') throw std::runtime_error("bad value in: " + line);
  return d;
}

// The family a sample belongs to: histogram samples carry _bucket, _sum or _count.
std::string family_of(const std::string& name, const std::map<std::string, std::string>& types) {
  if (types.count(name)) return name;
  for (const char* suffix : {"_bucket", "_sum", "_count"}) {
    std::string s(suffix);
    if (name.size() > s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0) {
      std::string base = name.substr(0, name.size() - s.size());
      auto it = types.find(base);
      if (it != types.end() && it->second == "histogram") return base;
    }
  }
  return "";
}

bool includes(const std::map<std::string, std::string>& have, const std::map<std::string, std::string>& want) {
  for (const auto& [k, v] : want) {
    auto it = have.find(k);
    if (it == have.end() || it->second != v) return false;
  }
  return true;
}

}  // namespace

PromText parse_prometheus(const std::string& text) {
  PromText out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    if (line[0] == '#') {
      std::istringstream c(line);
      std::string hash, kind, name;
      c >> hash >> kind >> name;
      if (kind != "HELP" && kind != "TYPE") continue;  // other comments are allowed
      if (!valid_name(name)) throw std::runtime_error("bad metric name in: " + line);
      if (kind == "TYPE") {
        std::string type;
        c >> type;
        if (type != "counter" && type != "gauge" && type != "histogram" && type != "summary" &&
            type != "untyped") {
          throw std::runtime_error("bad type in: " + line);
        }
        if (out.types.count(name)) throw std::runtime_error("second TYPE for " + name);
        out.types[name] = type;
      }
      continue;
    }
    PromSample s;
    std::size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ') ++i;
    s.name = line.substr(0, i);
    if (!valid_name(s.name)) throw std::runtime_error("bad sample name in: " + line);
    if (i < line.size() && line[i] == '{') {
      ++i;
      while (i < line.size() && line[i] != '}') {
        std::size_t eq = line.find('=', i);
        if (eq == std::string::npos || eq + 1 >= line.size() || line[eq + 1] != '"') {
          throw std::runtime_error("bad label in: " + line);
        }
        std::string key = line.substr(i, eq - i);
        if (!valid_name(key)) throw std::runtime_error("bad label name in: " + line);
        std::string value;
        std::size_t j = eq + 2;
        for (; j < line.size() && line[j] != '"'; ++j) {
          if (line[j] == '\\' && j + 1 < line.size()) {
            char e = line[++j];
            value += e == 'n' ? '\n' : e;
          } else {
            value += line[j];
          }
        }
        if (j >= line.size()) throw std::runtime_error("unterminated label value in: " + line);
        s.labels[key] = value;
        i = j + 1;
        if (i < line.size() && line[i] == ',') ++i;
      }
      if (i >= line.size()) throw std::runtime_error("unterminated labels in: " + line);
      ++i;
    }
    if (i >= line.size() || line[i] != ' ') throw std::runtime_error("no value in: " + line);
    std::string rest = line.substr(i + 1);
    std::string value = rest.substr(0, rest.find(' '));  // an optional timestamp may follow
    s.value = parse_value(value, line);
    if (family_of(s.name, out.types).empty()) throw std::runtime_error("sample before its TYPE: " + line);
    out.samples.push_back(std::move(s));
  }
  return out;
}

double PromText::value(const std::string& name, const std::map<std::string, std::string>& labels) const {
  const PromSample* found = nullptr;
  for (const auto& s : samples) {
    if (s.name != name || !includes(s.labels, labels)) continue;
    if (found) throw std::runtime_error("more than one sample of " + name + " matches");
    found = &s;
  }
  if (!found) throw std::runtime_error("no sample of " + name + " matches");
  return found->value;
}

double PromText::sum(const std::string& name, const std::map<std::string, std::string>& labels) const {
  double total = 0;
  for (const auto& s : samples) {
    if (s.name == name && includes(s.labels, labels)) total += s.value;
  }
  return total;
}

}  // namespace cserve::test
