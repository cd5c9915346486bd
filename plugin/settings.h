// The settings of one injector or probe instance as the plan wrote them: a JSON
// object whose scalars are strings (YAML scalars are untyped), read through typed
// getters that record every problem against its key path ("rules[1].match"), so
// the plan loader can report them all with file:line:col. Shared by injectors/
// and probes/ (library fb_plugin); depends on core only.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

namespace fb {

struct SettingProblem {
  std::string key;  // path inside the settings block; "" = the block itself
  std::string message;
};

class Settings {
 public:
  explicit Settings(nlohmann::json values) : values_(std::move(values)) {}

  // Typed reads. A missing optional key yields `def`; a missing required key or a
  // bad value records a problem and yields `def`.
  std::string String(const std::string& key, bool required = false, const std::string& def = "");
  int64_t DurationNs(const std::string& key, int64_t def);
  bool Bool(const std::string& key, bool def);
  // A list of objects or strings, or null when absent (recorded when required).
  const nlohmann::json* List(const std::string& key, bool required = false);
  bool Has(const std::string& key) const { return values_.contains(key); }

  void Problem(const std::string& key, const std::string& message) { problems_.push_back({key, message}); }
  // Records every key that no getter asked for, with a "did you mean".
  void RejectUnknownKeys();

  const std::vector<SettingProblem>& problems() const { return problems_; }
  const nlohmann::json& values() const { return values_; }

 private:
  nlohmann::json values_;
  std::set<std::string> read_;
  std::vector<SettingProblem> problems_;
};

// Levenshtein distance, for "did you mean".
size_t EditDistance(const std::string& a, const std::string& b);
// The closest of `known` to `word` when close enough to be a likely typo, else "".
std::string ClosestMatch(const std::string& word, const std::vector<std::string>& known);
// " (did you mean \"x\"?)" or "".
std::string DidYouMean(const std::string& word, const std::vector<std::string>& known);

}  // namespace fb
