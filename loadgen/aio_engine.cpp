#include "loadgen/aio_engine.h"

#include <fcntl.h>
#include <libaio.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "core/clock.h"

namespace fb {

namespace {

class AioEngine final : public Engine {
 public:
  ~AioEngine() override { Close(); }
  const char* name() const override { return "libaio"; }
  uint32_t caps() const override { return kCapFiles | kCapBlockDevices; }

  Status Open(const TargetInfo& target, const Workload& w, std::vector<Io>& ios) override {
    const std::string& path = target.paths.at(0);
    int flags = (w.HasWrites() ? O_RDWR : O_RDONLY) | O_CLOEXEC | (w.direct ? O_DIRECT : 0);
    fd_ = ::open(path.c_str(), flags);
    if (fd_ < 0) {
      int e = errno;
      if (e == EINVAL && w.direct) {
        return Status::InvalidInput("open " + path + ": the filesystem does not support O_DIRECT (tmpfs?); use a loop device or --direct 0");
      }
      return ErrnoStatus("open " + path, e);
    }
    int depth = int(ios.size());
    int rc = io_setup(depth, &ctx_);
    if (rc < 0) {
      return ErrnoStatus("io_setup(" + std::to_string(depth) + ") for " + path + " (see /proc/sys/fs/aio-max-nr)", -rc);
    }
    iocbs_.resize(ios.size());
    for (size_t i = 0; i < ios.size(); ++i) ios[i].engine_data = &iocbs_[i];
    pending_.reserve(ios.size());
    events_.resize(ios.size());
    failed_.reserve(ios.size());
    return Status::Ok();
  }

  QueueResult Queue(Io* io) override {
    iocb* cb = static_cast<iocb*>(io->engine_data);
    if (io->op == OpType::kRead) {
      io_prep_pread(cb, fd_, io->buffer, io->length, int64_t(io->offset));
    } else {
      io_prep_pwrite(cb, fd_, io->buffer, io->length, int64_t(io->offset));
    }
    cb->data = io;
    pending_.push_back(cb);  // capacity reserved in Open: never allocates
    return QueueResult::kQueued;
  }

  Status Commit() override {
    size_t done = 0;
    while (done < pending_.size()) {
      int rc = io_submit(ctx_, long(pending_.size() - done), pending_.data() + done);
      if (rc > 0) {
        done += size_t(rc);
        continue;
      }
      if (rc == -EAGAIN || rc == -EINTR) continue;
      // The first iocb was refused: it completes with that error; go on with the rest.
      Io* io = static_cast<Io*>(pending_[done]->data);
      io->result = rc == 0 ? -EIO : rc;
      failed_.push_back(io);
      ++done;
    }
    pending_.clear();
    return Status::Ok();
  }

  int Reap(int min, int max, int64_t timeout_ns, Io** out) override {
    int n = 0;
    while (!failed_.empty() && n < max) {
      out[n++] = failed_.back();
      failed_.pop_back();
    }
    if (n >= max) return n;
    int want_min = n >= min ? 0 : min - n;
    timespec ts{time_t(timeout_ns / kNsPerSec), long(timeout_ns % kNsPerSec)};
    if (timeout_ns < 0) ts = {0, 0};
    int rc = io_getevents(ctx_, want_min, max - n, events_.data(), &ts);
    if (rc < 0) return n;  // EINTR: the caller loops
    for (int i = 0; i < rc; ++i) {
      Io* io = static_cast<Io*>(events_[size_t(i)].data);
      long res = long(events_[size_t(i)].res);
      io->result = res;
      out[n++] = io;
    }
    return n;
  }

  void Close() override {
    if (ctx_) {
      io_destroy(ctx_);  // waits for in-flight I/O (may block on a frozen device)
      ctx_ = nullptr;
    }
    if (fd_ >= 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }

 private:
  int fd_ = -1;
  io_context_t ctx_ = nullptr;
  std::vector<iocb> iocbs_;
  std::vector<iocb*> pending_;
  std::vector<io_event> events_;
  std::vector<Io*> failed_;
};

}  // namespace

std::unique_ptr<Engine> NewAioEngine() { return std::make_unique<AioEngine>(); }

}  // namespace fb
