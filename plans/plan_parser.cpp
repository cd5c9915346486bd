// The YAML walker of plan_parser.h (PlanParser: positions, problems, typed
// scalars, settings as JSON) and how a problem reads (plan_loader.h).
#include "plans/plan_parser.h"

#include <algorithm>
#include <cctype>

#include "core/units.h"

namespace fb {

std::string SourceLoc::ToString() const {
  if (line == 0) return file;
  return file + ":" + std::to_string(line) + ":" + std::to_string(col);
}

std::string PlanProblem::ToString() const {
  return loc.ToString() + ": " + (path.empty() ? "" : path + ": ") + message;
}

Status LoadedPlan::ToStatus() const {
  if (problems.empty()) return Status::Ok();
  std::string all;
  for (const auto& p : problems) all += (all.empty() ? "" : "\n") + p.ToString();
  return Status::InvalidInput(all);
}

SourceLoc PlanParser::Loc(const YAML::Node& node, const std::string& path) const {
  for (const auto& o : overrides_) {
    if (path == o.path || path.rfind(o.path + ".", 0) == 0 || path.rfind(o.path + "[", 0) == 0) {
      return {"--set " + o.path + "=" + o.text, 0, 0};
    }
  }
  // Nodes without a position (an empty document) are placed at its start.
  if (!node.IsDefined()) return {file_, 1, 1};
  YAML::Mark m = node.Mark();
  if (m.line < 0) return {file_, 1, 1};
  return {file_, m.line + 1, m.column + 1};
}

void PlanParser::Problem(const YAML::Node& node, const std::string& path, const std::string& message) {
  problems_.push_back({Loc(node, path), path, message});
}

void PlanParser::Problem(const SourceLoc& loc, const std::string& path, const std::string& message) {
  problems_.push_back({loc, path, message});
}

bool PlanParser::CheckMap(const YAML::Node& node, const std::string& path,
                          const std::vector<std::string>& known) {
  if (!node.IsMap()) {
    Problem(node, path, "must be a map (key: value lines)");
    return false;
  }
  for (const auto& kv : node) {
    if (!kv.first.IsScalar()) {
      Problem(kv.first, path, "keys must be plain words");
      continue;
    }
    const std::string& k = kv.first.Scalar();
    if (std::find(known.begin(), known.end(), k) == known.end()) {
      Problem(kv.first, JoinPath(path, k), "unknown key \"" + k + "\"" + DidYouMean(k, known));
    }
  }
  return true;
}

std::optional<std::string> PlanParser::Scalar(const YAML::Node& node, const std::string& path) {
  if (!node.IsScalar()) {
    Problem(node, path,
            node.IsNull()
                ? "needs a value"
                : std::string("must be a single value, not a ") + (node.IsSequence() ? "list" : "map"));
    return std::nullopt;
  }
  return node.Scalar();
}

std::optional<int64_t> PlanParser::Duration(const YAML::Node& node, const std::string& path) {
  auto s = Scalar(node, path);
  if (!s) return std::nullopt;
  auto d = ParseDuration(*s);
  if (!d.ok()) {
    Problem(node, path, d.status().message());
    return std::nullopt;
  }
  return *d;
}

std::optional<uint64_t> PlanParser::Size(const YAML::Node& node, const std::string& path) {
  auto s = Scalar(node, path);
  if (!s) return std::nullopt;
  auto v = ParseSize(*s);
  if (!v.ok()) {
    Problem(node, path, v.status().message());
    return std::nullopt;
  }
  return *v;
}

std::optional<double> PlanParser::Percent(const YAML::Node& node, const std::string& path) {
  auto s = Scalar(node, path);
  if (!s) return std::nullopt;
  auto v = ParsePercent(*s);
  if (!v.ok()) {
    Problem(node, path, v.status().message());
    return std::nullopt;
  }
  return *v;
}

std::optional<int64_t> PlanParser::Integer(const YAML::Node& node, const std::string& path, int64_t min,
                                           int64_t max) {
  auto s = Scalar(node, path);
  if (!s) return std::nullopt;
  int64_t v = 0;
  bool digits = !s->empty() && s->size() < 19;
  for (char c : *s) digits = digits && std::isdigit(static_cast<unsigned char>(c));
  if (digits) v = std::stoll(*s);
  if (!digits || v < min || v > max) {
    Problem(node, path,
            "expected a whole number " + std::to_string(min) + ".." + std::to_string(max) + ", got \"" + *s +
                "\"");
    return std::nullopt;
  }
  return v;
}

std::optional<double> PlanParser::Number(const YAML::Node& node, const std::string& path, double min) {
  auto s = Scalar(node, path);
  if (!s) return std::nullopt;
  char* end = nullptr;
  double v = strtod(s->c_str(), &end);
  if (s->empty() || *end != '\0' || !(v >= min) || v > 1e15) {
    Problem(node, path, "expected a number >= " + std::to_string(int64_t(min)) + ", got \"" + *s + "\"");
    return std::nullopt;
  }
  return v;
}

std::optional<bool> PlanParser::Bool(const YAML::Node& node, const std::string& path) {
  auto s = Scalar(node, path);
  if (!s) return std::nullopt;
  if (*s == "true" || *s == "yes" || *s == "on") return true;
  if (*s == "false" || *s == "no" || *s == "off") return false;
  Problem(node, path, "expected true or false, got \"" + *s + "\"");
  return std::nullopt;
}

nlohmann::json PlanParser::ToJson(const YAML::Node& node, const std::string& path, const std::string& rel,
                                  std::map<std::string, SourceLoc>* key_locs) {
  if (node.IsScalar()) return node.Scalar();
  if (node.IsSequence()) {
    nlohmann::json a = nlohmann::json::array();
    for (size_t i = 0; i < node.size(); ++i) {
      std::string idx = "[" + std::to_string(i) + "]";
      (*key_locs)[rel + idx] = Loc(node[i], path + idx);
      a.push_back(ToJson(node[i], path + idx, rel + idx, key_locs));
    }
    return a;
  }
  if (node.IsMap()) {
    nlohmann::json o = nlohmann::json::object();
    for (const auto& kv : node) {
      std::string k = kv.first.IsScalar() ? kv.first.Scalar() : "?";
      (*key_locs)[JoinPath(rel, k)] = Loc(kv.first, JoinPath(path, k));
      o[k] = ToJson(kv.second, JoinPath(path, k), JoinPath(rel, k), key_locs);
    }
    return o;
  }
  return nullptr;
}

}  // namespace fb
