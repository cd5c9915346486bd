#include "plugin/settings.h"

#include <algorithm>

#include "core/units.h"

namespace fb {

std::string Settings::String(const std::string& key, bool required, const std::string& def) {
  read_.insert(key);
  auto it = values_.find(key);
  if (it == values_.end() || it->is_null()) {
    if (required) Problem("", "missing required setting \"" + key + "\"");
    return def;
  }
  if (!it->is_string()) {
    Problem(key, "must be a single value, not a " + std::string(it->is_array() ? "list" : "map"));
    return def;
  }
  return it->get<std::string>();
}

int64_t Settings::DurationNs(const std::string& key, int64_t def) {
  bool present = Has(key);
  std::string text = String(key);
  if (!present || text.empty()) return def;
  auto d = ParseDuration(text);
  if (!d.ok()) {
    Problem(key, d.status().message());
    return def;
  }
  return *d;
}

bool Settings::Bool(const std::string& key, bool def) {
  bool present = Has(key);
  std::string text = String(key);
  if (!present) return def;
  if (text == "true" || text == "yes" || text == "on") return true;
  if (text == "false" || text == "no" || text == "off") return false;
  Problem(key, "expected true or false, got \"" + text + "\"");
  return def;
}

const nlohmann::json* Settings::List(const std::string& key, bool required) {
  read_.insert(key);
  auto it = values_.find(key);
  if (it == values_.end() || it->is_null()) {
    if (required) Problem("", "missing required setting \"" + key + "\"");
    return nullptr;
  }
  if (!it->is_array()) {
    Problem(key, "must be a list");
    return nullptr;
  }
  return &*it;
}

void Settings::RejectUnknownKeys() {
  if (!values_.is_object()) {
    Problem("", "settings must be a map");
    return;
  }
  std::vector<std::string> known(read_.begin(), read_.end());
  known.push_back("kind");
  for (const auto& [k, v] : values_.items()) {
    if (k == "kind" || read_.count(k)) continue;
    Problem(k, "unknown setting \"" + k + "\"" + DidYouMean(k, known));
  }
}

size_t EditDistance(const std::string& a, const std::string& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string ClosestMatch(const std::string& word, const std::vector<std::string>& known) {
  std::string best;
  size_t best_d = SIZE_MAX;
  for (const auto& k : known) {
    size_t d = EditDistance(word, k);
    if (d < best_d) {
      best_d = d;
      best = k;
    }
  }
  // A typo: at most a third of the word (and at least one edit allowed).
  size_t limit = std::max<size_t>(1, std::max(word.size(), best.size()) / 3);
  return best_d <= limit ? best : "";
}

std::string DidYouMean(const std::string& word, const std::vector<std::string>& known) {
  std::string m = ClosestMatch(word, known);
  return m.empty() ? "" : " (did you mean \"" + m + "\"?)";
}

}  // namespace fb
