#include "reports/journal_reader.h"

#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <deque>
#include <fstream>
#include <functional>
#include <memory>
#include <string_view>
#include <thread>

#include "core/clock.h"
#include "core/jsonl_writer.h"
#include "reports/latency.h"

namespace fb::reports {

namespace {

using Json = nlohmann::json;

int64_t I64(const Json& j, const char* key, int64_t def = 0) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_number()) return def;
  return it->is_number_float() ? int64_t(std::llround(it->get<double>())) : it->get<int64_t>();
}

double Dbl(const Json& j, const char* key, double def = 0) {
  auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<double>() : def;
}

std::string Str(const Json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

// One samples.jsonl line straight into a Sample, without a JSON document in
// between (a run of an hour holds millions of these): nlohmann's SAX events.
// Numbers of any JSON type are taken (integers rounded); a lat_hist bucket
// counts when it is a pair of integers, a valid index above the previous one
// and a count above 0 (as written); null latencies stay empty.
class SampleSax : public nlohmann::json_sax<Json> {
 public:
  explicit SampleSax(Sample* s) : s_(s) {}
  bool is_all() const { return all_; }
  bool object() const { return object_; }  // the line is a JSON object

  bool null() override { return Value(Num{}); }
  bool boolean(bool b) override {
    if (Top()) {
      if (key_[1] == "stall")
        s_->stall = b;
      else if (key_[1] == "ramp")
        s_->ramp = b;
      else if (key_[1] == "drain")
        s_->drain = b;
    }
    return Value(Num{});
  }
  bool number_integer(number_integer_t v) override { return Value(Num{true, true, v, double(v)}); }
  bool number_unsigned(number_unsigned_t v) override { return Value(Num{true, true, int64_t(v), double(v)}); }
  bool number_float(number_float_t v, const string_t&) override {
    return Value(Num{true, false, int64_t(std::llround(v)), v});
  }
  bool string(string_t& v) override {
    if (Top()) {
      if (key_[1] == "agent")
        s_->agent = v;
      else if (key_[1] == "job")
        all_ = v == "all";
    }
    return Value(Num{});
  }
  bool binary(binary_t&) override { return Value(Num{}); }
  bool start_object(std::size_t) override {
    Push('{');
    if (depth_ == 1) object_ = true;
    if (depth_ == 2 && In('{', 1)) {
      if (key_[1] == "read")
        op_ = &s_->read;
      else if (key_[1] == "write")
        op_ = &s_->write;
      else if (key_[1] == "verify")
        verify_ = true;
    }
    return true;
  }
  bool key(string_t& k) override {
    if (depth_ < int(key_.size())) key_[depth_] = k;
    return true;
  }
  bool end_object() override {
    if (depth_ == 2) op_ = nullptr, verify_ = false;
    Pop();
    return true;
  }
  bool start_array(std::size_t) override {
    if (depth_ == 0) return false;
    Push('[');
    if (depth_ == 4 && hist_) pair_n_ = 0;
    if (depth_ == 3 && op_ && key_[2] == "lat_hist") hist_ = true;
    return true;
  }
  bool end_array() override {
    if (depth_ == 4 && hist_ && pair_n_ == 2) {
      // A valid bucket, ascending, as written.
      if (pair_[0] >= 0 && pair_[0] < Histogram::kBucketCount && pair_[1] > 0 &&
          (op_->lat_hist.empty() || pair_[0] > op_->lat_hist.back().first))
        op_->lat_hist.emplace_back(int(pair_[0]), uint64_t(pair_[1]));
    }
    if (depth_ == 3) hist_ = false;
    Pop();
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception&) override {
    return false;
  }

 private:
  struct Num {
    bool number = false, integer = false;
    int64_t i = 0;
    double d = 0;
  };
  bool Top() const { return depth_ == 1; }
  bool In(char kind, int depth) const {
    return depth >= 1 && depth <= int(stack_.size()) && stack_[depth - 1] == kind;
  }
  void Push(char kind) {
    stack_.push_back(kind);
    ++depth_;
  }
  void Pop() {
    stack_.pop_back();
    --depth_;
  }
  bool Value(Num n) {
    if (depth_ == 4 && hist_) {  // an element of a [index, count] pair
      if (pair_n_ < 2 && n.integer) pair_[pair_n_] = n.i;
      ++pair_n_;
      if (!n.integer) pair_n_ = 3;  // not a pair of integers: skipped
      return true;
    }
    if (!n.number) return true;
    if (Top()) {
      const std::string& k = key_[1];
      if (k == "interval")
        s_->index = n.i;
      else if (k == "t_utc_ns")
        s_->end_utc_ns = n.i;
      else if (k == "interval_s")
        s_->interval_ns = int64_t(std::llround(n.d * 1e9));
      else if (k == "errors")
        s_->errors = uint64_t(n.i);
      else if (k == "inflight")
        s_->inflight = uint64_t(n.i);
      else if (k == "oldest_inflight_age_ms")
        s_->oldest_inflight_age_ms = n.d;
      else if (k == "job")
        all_ = false;
    } else if (depth_ == 2 && op_) {
      const std::string& k = key_[2];
      if (k == "ios")
        op_->ios = uint64_t(n.i);
      else if (k == "errors")
        op_->errors = uint64_t(n.i);
      else if (k == "iops")
        op_->iops = n.d;
      else if (k == "lat_min_us")
        op_->min_us = n.d;
      else if (k == "lat_p50_us")
        op_->p50_us = n.d;
      else if (k == "lat_p99_us")
        op_->p99_us = n.d;
      else if (k == "lat_max_us")
        op_->max_us = n.d;
    } else if (depth_ == 2 && verify_ && key_[2] == "verified_blocks") {
      s_->verified_blocks = uint64_t(n.i);
    } else if (depth_ == 3 && op_ && key_[2] == "errors_by_errno" && In('{', 3)) {
      op_->errors_by_errno[key_[3]] = uint64_t(n.i);
    }
    return true;
  }

  Sample* s_;
  bool all_ = false, verify_ = false, hist_ = false, object_ = false;
  OpSample* op_ = nullptr;
  int depth_ = 0;
  std::string stack_;
  std::array<std::string, 5> key_;
  int64_t pair_[2] = {0, 0};
  int pair_n_ = 0;
};

// A strict JSON parser of one line for a SAX handler (nlohmann's json_sax
// interface), several times faster than nlohmann's lexer on the journal's
// lines: RFC 8259 values, numbers by std::from_chars (an integer too big for
// 64 bits is a float, as nlohmann reads it), strings with every escape, at
// most kMaxDepth levels, nothing but whitespace after the value.
template <class Sax>
class LineScanner {
 public:
  LineScanner(std::string_view text, Sax* sax)
      : p_(text.data()), end_(text.data() + text.size()), sax_(sax) {}

  bool Parse() {
    if (!Value(0)) return false;
    Space();
    return p_ == end_;
  }

 private:
  static constexpr int kMaxDepth = 64;

  void Space() {
    while (p_ < end_ && (*p_ == ' ' || *p_ == '\t' || *p_ == '\n' || *p_ == '\r')) ++p_;
  }
  bool Literal(std::string_view word) {
    if (size_t(end_ - p_) < word.size() || std::string_view(p_, word.size()) != word) return false;
    p_ += word.size();
    return true;
  }
  bool Value(int depth) {
    Space();
    if (p_ == end_ || depth > kMaxDepth) return false;
    switch (*p_) {
      case '{':
        return Object(depth + 1);
      case '[':
        return Array(depth + 1);
      case '"':
        return String(&str_) && sax_->string(str_);
      case 't':
        return Literal("true") && sax_->boolean(true);
      case 'f':
        return Literal("false") && sax_->boolean(false);
      case 'n':
        return Literal("null") && sax_->null();
      default:
        return Number();
    }
  }
  bool Object(int depth) {
    ++p_;
    if (!sax_->start_object(std::size_t(-1))) return false;
    Space();
    if (p_ < end_ && *p_ == '}') {
      ++p_;
      return sax_->end_object();
    }
    for (;;) {
      Space();
      if (p_ == end_ || *p_ != '"' || !String(&key_) || !sax_->key(key_)) return false;
      Space();
      if (p_ == end_ || *p_++ != ':') return false;
      if (!Value(depth)) return false;
      Space();
      if (p_ == end_) return false;
      char c = *p_++;
      if (c == '}') return sax_->end_object();
      if (c != ',') return false;
    }
  }
  bool Array(int depth) {
    ++p_;
    if (!sax_->start_array(std::size_t(-1))) return false;
    Space();
    if (p_ < end_ && *p_ == ']') {
      ++p_;
      return sax_->end_array();
    }
    for (;;) {
      if (!Value(depth)) return false;
      Space();
      if (p_ == end_) return false;
      char c = *p_++;
      if (c == ']') return sax_->end_array();
      if (c != ',') return false;
    }
  }
  static int Hex4(const char* p) {
    int v = 0;
    for (int i = 0; i < 4; ++i) {
      char c = p[i];
      int d = c >= '0' && c <= '9'   ? c - '0'
              : c >= 'a' && c <= 'f' ? c - 'a' + 10
              : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                     : -1;
      if (d < 0) return -1;
      v = v * 16 + d;
    }
    return v;
  }
  static void Utf8(uint32_t cp, std::string* out) {
    if (cp < 0x80) {
      out->push_back(char(cp));
    } else if (cp < 0x800) {
      out->push_back(char(0xC0 | (cp >> 6)));
      out->push_back(char(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out->push_back(char(0xE0 | (cp >> 12)));
      out->push_back(char(0x80 | ((cp >> 6) & 0x3F)));
      out->push_back(char(0x80 | (cp & 0x3F)));
    } else {
      out->push_back(char(0xF0 | (cp >> 18)));
      out->push_back(char(0x80 | ((cp >> 12) & 0x3F)));
      out->push_back(char(0x80 | ((cp >> 6) & 0x3F)));
      out->push_back(char(0x80 | (cp & 0x3F)));
    }
  }
  bool String(std::string* out) {
    ++p_;
    out->clear();
    for (;;) {
      const char* run = p_;
      while (p_ < end_ && *p_ != '"' && *p_ != '\\' && (unsigned char)*p_ >= 0x20) ++p_;
      out->append(run, size_t(p_ - run));
      if (p_ == end_ || (unsigned char)*p_ < 0x20) return false;
      if (*p_ == '"') {
        ++p_;
        return true;
      }
      if (++p_ == end_) return false;  // the backslash
      char e = *p_++;
      switch (e) {
        case '"':
          out->push_back('"');
          break;
        case '\\':
          out->push_back('\\');
          break;
        case '/':
          out->push_back('/');
          break;
        case 'b':
          out->push_back('\b');
          break;
        case 'f':
          out->push_back('\f');
          break;
        case 'n':
          out->push_back('\n');
          break;
        case 'r':
          out->push_back('\r');
          break;
        case 't':
          out->push_back('\t');
          break;
        case 'u': {
          if (end_ - p_ < 4) return false;
          int hi = Hex4(p_);
          if (hi < 0) return false;
          p_ += 4;
          uint32_t cp = uint32_t(hi);
          if (hi >= 0xD800 && hi <= 0xDBFF) {  // a surrogate pair
            if (end_ - p_ < 6 || p_[0] != '\\' || p_[1] != 'u') return false;
            int lo = Hex4(p_ + 2);
            if (lo < 0xDC00 || lo > 0xDFFF) return false;
            p_ += 6;
            cp = 0x10000 + ((uint32_t(hi) - 0xD800) << 10) + (uint32_t(lo) - 0xDC00);
          } else if (hi >= 0xDC00 && hi <= 0xDFFF) {
            return false;
          }
          Utf8(cp, out);
          break;
        }
        default:
          return false;
      }
    }
  }
  bool Number() {
    const char* start = p_;
    if (p_ < end_ && *p_ == '-') ++p_;
    if (p_ == end_ || !(*p_ >= '0' && *p_ <= '9')) return false;
    if (*p_ == '0') {
      ++p_;
    } else {
      while (p_ < end_ && *p_ >= '0' && *p_ <= '9') ++p_;
    }
    bool integer = true;
    if (p_ < end_ && *p_ == '.') {
      integer = false;
      if (++p_ == end_ || !(*p_ >= '0' && *p_ <= '9')) return false;
      while (p_ < end_ && *p_ >= '0' && *p_ <= '9') ++p_;
    }
    if (p_ < end_ && (*p_ == 'e' || *p_ == 'E')) {
      integer = false;
      ++p_;
      if (p_ < end_ && (*p_ == '+' || *p_ == '-')) ++p_;
      if (p_ == end_ || !(*p_ >= '0' && *p_ <= '9')) return false;
      while (p_ < end_ && *p_ >= '0' && *p_ <= '9') ++p_;
    }
    if (integer) {
      if (*start == '-') {
        int64_t v;
        auto [ptr, ec] = std::from_chars(start, p_, v);
        if (ec == std::errc() && ptr == p_) return sax_->number_integer(v);
      } else {
        uint64_t v;
        auto [ptr, ec] = std::from_chars(start, p_, v);
        if (ec == std::errc() && ptr == p_) return sax_->number_unsigned(v);
      }
    }
    double d;
    auto [ptr, ec] = std::from_chars(start, p_, d);
    if (ec != std::errc() || ptr != p_) return false;
    return sax_->number_float(d, empty_);
  }

  const char* p_;
  const char* end_;
  Sax* sax_;
  std::string str_, key_, empty_;
};

// A samples.jsonl line: 1 and *s filled for a job "all" record, 0 for any
// other record, -1 for a line that is not a JSON object.
int ParseSampleLine(std::string_view line, Sample* s) {
  SampleSax sax(s);
  if (!LineScanner<SampleSax>(line, &sax).Parse() || !sax.object()) return -1;
  return sax.is_all() ? 1 : 0;
}

// Reads a .jsonl file (a run of an hour holds a GiB of samples: never all of
// it in memory) a segment of ~4 MiB of whole lines at a time, and parses its
// lines on every core, each thread a contiguous share: lines `skip` returns
// true for not at all, the others by `parse` (on that thread; 1: a record
// wanted, 0: not wanted, -1: not a JSON object). `out` gets the records in the
// file's order. A cut-short last line (only newlines after it) is skipped with
// a warning; any other bad line is an error naming the file and line.
template <class T>
Status ParallelJsonl(const std::string& path, const std::function<bool(std::string_view)>& skip,
                     const std::function<int(std::string_view, T*)>& parse,
                     const std::function<void(T&&)>& out, std::vector<std::string>* warnings) {
  FILE* f = fopen(path.c_str(), "re");
  if (!f) return Status::InvalidInput(path + ": missing or unreadable (is this a run directory?)");
  std::unique_ptr<FILE, int (*)(FILE*)> closer(f, fclose);
  constexpr size_t kSegment = 4 << 20;
  const unsigned threads = std::clamp(std::thread::hardware_concurrency(), 1u, 8u);
  std::string buf, carry;
  std::vector<char> chunk(kSegment);
  int line_base = 0;
  bool eof = false;
  while (!eof) {
    buf.swap(carry);
    carry.clear();
    size_t n = fread(chunk.data(), 1, chunk.size(), f);
    if (n == 0) eof = true;
    buf.append(chunk.data(), n);
    if (ferror(f)) return Status::InvalidInput(path + ": read error");
    // Whole lines only; the rest goes with the next segment.
    size_t end = buf.size();
    if (!eof) {
      size_t nl = buf.rfind('\n');
      end = nl == std::string::npos ? 0 : nl + 1;
      if (end == 0) {  // a line longer than a segment: read on
        carry.swap(buf);
        continue;
      }
      carry.assign(buf, end, std::string::npos);
    }
    std::vector<std::string_view> lines;
    std::vector<int> numbers;
    int line_no = line_base;
    for (size_t pos = 0; pos < end;) {
      size_t nl = buf.find('\n', pos);
      if (nl == std::string::npos || nl > end) nl = end;
      ++line_no;
      std::string_view line(buf.data() + pos, nl - pos);
      if (!line.empty() && !skip(line)) {
        lines.push_back(line);
        numbers.push_back(line_no);
      }
      pos = nl + 1;
    }
    line_base = line_no;
    std::vector<std::vector<T>> parts(threads);
    std::vector<size_t> bad(threads, SIZE_MAX);
    std::vector<std::thread> workers;
    for (unsigned t = 0; t < threads; ++t) {
      workers.emplace_back([&, t] {
        size_t from = lines.size() * t / threads, to = lines.size() * (t + 1) / threads;
        for (size_t i = from; i < to; ++i) {
          T v;
          int got = parse(lines[i], &v);
          if (got < 0) {
            bad[t] = i;
            return;
          }
          if (got > 0) parts[t].push_back(std::move(v));
        }
      });
    }
    for (auto& w : workers) w.join();
    for (unsigned t = 0; t < threads; ++t) {
      for (auto& v : parts[t]) out(std::move(v));
      parts[t] = std::vector<T>();
      if (bad[t] == SIZE_MAX) continue;
      // Bad: fine only as the file's last line (nothing but newlines after it,
      // in this segment and in the rest of the file).
      const std::string_view& line = lines[bad[t]];
      bool last =
          buf.find_first_not_of('\n', size_t(line.data() - buf.data()) + line.size()) == std::string::npos;
      while (last && !eof) {
        size_t got = fread(chunk.data(), 1, chunk.size(), f);
        if (got == 0) eof = true;
        last = std::all_of(chunk.data(), chunk.data() + got, [](char c) { return c == '\n'; });
      }
      if (!last)
        return Status::InvalidInput(path + ":" + std::to_string(numbers[bad[t]]) + ": not a JSON record");
      warnings->push_back(path + ":" + std::to_string(numbers[bad[t]]) +
                          ": last line cut short (the run may have crashed); skipped");
      return Status::Ok();
    }
  }
  return Status::Ok();
}

// Every record of a small .jsonl file (events, stalls), as JSON documents.
Status ReadJsonl(const std::string& path, std::vector<Json>* out, std::vector<std::string>* warnings) {
  return ParallelJsonl<Json>(
      path, [](std::string_view) { return false; },
      [](std::string_view line, Json* j) {
        *j = Json::parse(line, nullptr, /*allow_exceptions=*/false);
        return j->is_discarded() || !j->is_object() ? -1 : 1;
      },
      [out](Json&& j) { out->push_back(std::move(j)); }, warnings);
}

// A per-job sample record ("job":N), as the journal writes it: only job "all"
// counts for the report, so these lines are not parsed at all.
bool PerJobSample(std::string_view line) {
  size_t at = line.find("\"job\":");
  return at != std::string_view::npos && at + 6 < line.size() && line[at + 6] >= '0' && line[at + 6] <= '9';
}

// The agent a record belongs to: its "agent" field, else attrs.agent.
std::string AgentOf(const Json& j) {
  std::string a = Str(j, "agent");
  if (a.empty() && j.contains("attrs") && j["attrs"].is_object()) a = Str(j["attrs"], "agent");
  return a;
}

// Adds `from` into `to`. The merged buckets' percentiles are left to
// FinishOp (once per merged sample, not per source).
void AddOp(const OpSample& from, OpSample* to) {
  to->ios += from.ios;
  to->errors += from.errors;
  to->iops += from.iops;
  for (const auto& [k, n] : from.errors_by_errno) to->errors_by_errno[k] += n;
  if (!from.ios) return;
  bool first = to->ios == from.ios;
  if (from.min_us) to->min_us = first || !to->min_us ? *from.min_us : std::min(*to->min_us, *from.min_us);
  if (from.max_us) to->max_us = first || !to->max_us ? *from.max_us : std::max(*to->max_us, *from.max_us);
  // Percentiles from the merged buckets when every source has them; else the worse.
  bool hist = (first || !to->lat_hist.empty()) && !from.lat_hist.empty();
  if (!hist) to->lat_hist.clear();
  if (hist) {
    to->lat_hist = first ? from.lat_hist : MergeBuckets(to->lat_hist, from.lat_hist);
  } else {
    for (auto [f, t] : {std::pair{&from.p50_us, &to->p50_us}, std::pair{&from.p99_us, &to->p99_us}}) {
      if (*f) *t = first || !*t ? **f : std::max(**t, **f);
    }
  }
}

// A merged op's percentiles from its merged buckets (when it has them).
void FinishOp(OpSample* op) {
  if (op->lat_hist.empty()) return;
  Histogram h;
  AddBuckets(*op, &h);
  op->p50_us = NsToUs(h.Percentile(0.50));
  op->p99_us = NsToUs(h.Percentile(0.99));
}

// The run's series when agents wrote samples: every source's job "all"
// records on one grid of the run's interval, merged per grid slot. A source's
// first record fixes its offset on the grid; so does the first record of a
// segment an agent restarted, whose intervals count from 0 again. Records come
// a source at a time in its own order (the journal's), sources interleaved.
class SourceGrid {
 public:
  // ref_utc_ns: the end of the grid's first slot, or 0 to take the first
  // record's end.
  SourceGrid(int64_t ref_utc_ns, int64_t interval_ns) : ref_(ref_utc_ns), interval_(interval_ns) {}

  void Add(const Sample& s) {
    if (!ref_) ref_ = s.end_utc_ns;
    auto it = place_.find(s.agent);
    if (it == place_.end() || s.index <= it->second.last_index) {
      int64_t slot = int64_t(std::llround(double(s.end_utc_ns - ref_) / double(interval_)));
      it = place_.insert_or_assign(s.agent, Place{slot - s.index, s.index}).first;
    }
    it->second.last_index = s.index;
    auto [m, fresh] = slots_.try_emplace(s.index + it->second.offset);
    Sample& t = m->second;
    if (fresh) {
      t.interval_ns = interval_;
      t.ramp = s.ramp;
      t.drain = s.drain;
    }
    t.end_utc_ns = std::max(t.end_utc_ns, s.end_utc_ns);
    AddOp(s.read, &t.read);
    AddOp(s.write, &t.write);
    t.errors += s.errors;
    t.inflight += s.inflight;
    t.oldest_inflight_age_ms = std::max(t.oldest_inflight_age_ms, s.oldest_inflight_age_ms);
    t.stall = t.stall || s.stall;
    t.ramp = t.ramp || s.ramp;
    t.drain = t.drain || s.drain;
  }

  // The merged series, in slot order, its indexes counted from the first slot.
  std::vector<Sample> Take() {
    std::vector<Sample> out;
    out.reserve(slots_.size());
    for (auto& [slot, s] : slots_) {
      s.index = slot - slots_.begin()->first;
      FinishOp(&s.read);
      FinishOp(&s.write);
      out.push_back(std::move(s));
    }
    slots_.clear();
    return out;
  }

 private:
  struct Place {
    int64_t offset;      // grid slot of the source's (segment's) interval 0
    int64_t last_index;  // of its newest record
  };
  int64_t ref_, interval_;
  std::map<std::string, Place> place_;
  std::map<int64_t, Sample> slots_;
};

std::optional<double> MaxOpt(std::optional<double> a, std::optional<double> b) {
  if (!a) return b;
  if (!b) return a;
  return std::max(*a, *b);
}

}  // namespace

std::optional<double> Sample::P99Us() const { return MaxOpt(read.p99_us, write.p99_us); }
std::optional<double> Sample::MaxUs() const { return MaxOpt(read.max_us, write.max_us); }

AgentLoad::Interval AgentLoad::IntervalOf(const Sample& s) {
  return {s.end_utc_ns, s.interval_ns, s.ios(), s.iops(), !s.stall && !s.ramp && !s.drain};
}

void AgentLoad::Add(const Sample& s) {
  intervals.push_back(IntervalOf(s));
  errors += s.errors;
  if (s.verified_blocks) verified_blocks = verified_blocks.value_or(0) + *s.verified_blocks;
  if (s.ramp || s.drain) return;
  ++measured_intervals;
  measured_ns += s.interval_ns;
  measured_ios += s.ios();
  read.Add(s.read);
  write.Add(s.write);
}

Result<RunJournal> ReadRunJournal(const std::string& dir) {
  struct stat st {};
  if (stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return Status::InvalidInput(dir + ": not a run directory (no such directory)");
  }
  RunJournal r;
  r.dir = dir;
  auto info_text = ReadFile(dir + "/run.json");
  if (!info_text.ok()) return Status::InvalidInput(dir + "/run.json: missing; not a run directory");
  r.run_info = Json::parse(*info_text, nullptr, false);
  if (r.run_info.is_discarded() || !r.run_info.is_object()) {
    return Status::InvalidInput(dir + "/run.json: not a JSON object");
  }
  r.status = Str(r.run_info, "status");
  if (r.run_info.contains("load_start")) r.load_start_utc_ns = I64(r.run_info["load_start"], "t_utc_ns");
  if (r.run_info.contains("load") && r.run_info["load"].is_object()) {
    r.ramp_ns = int64_t(std::llround(Dbl(r.run_info["load"], "ramp_s") * 1e9));
    r.interval_ns = int64_t(std::llround(Dbl(r.run_info["load"], "interval_s", 1.0) * 1e9));
  }
  auto plan = ReadFile(dir + "/plan.yaml");
  if (plan.ok()) r.plan_yaml = *plan;

  // Agents in the order run.json lists them, then as they first appear.
  auto note = [&](const std::string& a) {
    if (!a.empty() && std::find(r.agents.begin(), r.agents.end(), a) == r.agents.end()) r.agents.push_back(a);
  };
  if (auto it = r.run_info.find("agents"); it != r.run_info.end() && it->is_array()) {
    for (const auto& a : *it) {
      if (a.is_object()) note(Str(a, "name"));
    }
  }
  // The controller's own samples are kept (in a deque: no doubling of a
  // vector of hundreds of thousands) until an agent's first appears. From
  // then on every record goes onto the merged grid as it is read, an agent's
  // also folded into its AgentLoad: nothing per agent and interval is kept
  // but AgentLoad::Interval.
  std::deque<Sample> own;
  std::optional<SourceGrid> grid;
  FB_RETURN_IF_ERROR(ParallelJsonl<Sample>(
      dir + "/samples.jsonl", PerJobSample, ParseSampleLine,
      [&](Sample&& s) {
        if (s.interval_ns <= 0) s.interval_ns = r.interval_ns;
        if (!s.agent.empty() && !grid) {
          int64_t interval = r.interval_ns > 0   ? r.interval_ns
                             : s.interval_ns > 0 ? s.interval_ns
                                                 : kNsPerSec;
          grid.emplace(r.load_start_utc_ns ? r.load_start_utc_ns + interval : 0, interval);
          for (const auto& o : own) grid->Add(o);
          own.clear();
        }
        if (!grid) {
          s.read.lat_hist.shrink_to_fit();
          s.write.lat_hist.shrink_to_fit();
          own.push_back(std::move(s));
          return;
        }
        grid->Add(s);
        if (s.agent.empty()) return;
        auto [load, fresh] = r.agent_loads.try_emplace(s.agent);
        if (fresh) note(s.agent);
        load->second.Add(s);
      },
      &r.warnings));
  if (grid) {
    r.samples = grid->Take();
  } else {
    r.samples.reserve(own.size());
    while (!own.empty()) {  // a deque block freed at a time
      r.samples.push_back(std::move(own.front()));
      own.pop_front();
    }
    std::stable_sort(r.samples.begin(), r.samples.end(),
                     [](const Sample& a, const Sample& b) { return a.end_utc_ns < b.end_utc_ns; });
  }

  std::vector<Json> raw;
  FB_RETURN_IF_ERROR(ReadJsonl(dir + "/events.jsonl", &raw, &r.warnings));
  for (const auto& j : raw) {
    JournalEvent e;
    e.t_utc_ns = I64(j, "t_utc_ns");
    e.source = Str(j, "source");
    e.kind = Str(j, "kind");
    e.severity = Str(j, "severity");
    e.message = Str(j, "message");
    e.agent = AgentOf(j);
    if (j.contains("attrs") && j["attrs"].is_object()) e.attrs = j["attrs"];
    r.events.push_back(std::move(e));
  }
  std::stable_sort(r.events.begin(), r.events.end(),
                   [](const JournalEvent& a, const JournalEvent& b) { return a.t_utc_ns < b.t_utc_ns; });

  // Load start and end: run.json, else the first and last records.
  if (!r.load_start_utc_ns) {
    for (const auto& e : r.events) {
      if (e.kind == "load_started") {
        r.load_start_utc_ns = e.t_utc_ns;
        break;
      }
    }
    if (!r.load_start_utc_ns && !r.samples.empty()) r.load_start_utc_ns = r.samples.front().start_utc_ns();
  }
  r.load_end_utc_ns = r.load_start_utc_ns;
  for (const auto& s : r.samples) r.load_end_utc_ns = std::max(r.load_end_utc_ns, s.end_utc_ns);
  for (const auto& e : r.events) {
    if (e.kind == "load_finished") r.load_end_utc_ns = std::max(r.load_end_utc_ns, e.t_utc_ns);
  }
  if (!r.interval_ns && !r.samples.empty()) r.interval_ns = r.samples.front().interval_ns;

  raw.clear();
  FB_RETURN_IF_ERROR(ReadJsonl(dir + "/stalls.jsonl", &raw, &r.warnings));
  for (const auto& j : raw) {
    Stall s;
    s.agent = AgentOf(j);
    s.job = j.contains("job") && j["job"].is_number() ? j["job"].get<int>() : 0;
    s.start_utc_ns = I64(j, "start_utc_ns");
    s.open = j.value("open", false) || !j.contains("end_utc_ns") || j["end_utc_ns"].is_null();
    s.end_utc_ns = s.open ? std::max(r.load_end_utc_ns, s.start_utc_ns) : I64(j, "end_utc_ns");
    s.inflight = uint64_t(I64(j, "inflight"));
    s.oldest_age_ms = Dbl(j, "oldest_age_ms");
    if (j.contains("completions_before") && j["completions_before"].is_number())
      s.completions_before = j["completions_before"].get<uint64_t>();
    r.stalls.push_back(s);
    r.load_end_utc_ns = std::max(r.load_end_utc_ns, s.end_utc_ns);
  }
  std::stable_sort(r.stalls.begin(), r.stalls.end(),
                   [](const Stall& a, const Stall& b) { return a.start_utc_ns < b.start_utc_ns; });
  for (const auto& s : r.stalls) note(s.agent);
  for (const auto& e : r.events) note(e.agent);
  if (r.samples.empty() && r.events.empty()) {
    return Status::InvalidInput(dir + ": the journal holds no samples and no events");
  }
  return r;
}

}  // namespace fb::reports
