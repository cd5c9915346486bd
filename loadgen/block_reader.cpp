#include "loadgen/block_reader.h"

#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

// clang-format off
#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>
// clang-format on

#include "loadgen/iscsi_session.h"

namespace fb {

namespace {

class FileReader : public BlockReader {
 public:
  FileReader(std::string path, int fd, uint64_t size) : path_(std::move(path)), fd_(fd), size_(size) {}
  ~FileReader() override { ::close(fd_); }
  Status Read(uint64_t offset, uint32_t length, uint8_t* buf) override {
    for (uint32_t done = 0; done < length;) {
      ssize_t n = ::pread(fd_, buf + done, length - done, off_t(offset + done));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return ErrnoStatus("read " + path_ + " at " + std::to_string(offset + done), errno);
      if (n == 0) return Status::IoError(path_ + ": end of file at " + std::to_string(offset + done));
      done += uint32_t(n);
    }
    return Status::Ok();
  }
  uint64_t size_bytes() const override { return size_; }
  uint32_t logical_block_bytes() const override { return 512; }

 private:
  std::string path_;
  int fd_;
  uint64_t size_;
};

Result<std::unique_ptr<BlockReader>> OpenFile(const std::string& path, bool direct) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | (direct ? O_DIRECT : 0));
  if (fd < 0 && direct && errno == EINVAL) fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);  // tmpfs
  if (fd < 0) return ErrnoStatus("open " + path, errno);
  struct stat st {};
  uint64_t size = 0;
  if (fstat(fd, &st) == 0 && S_ISBLK(st.st_mode)) {
    if (ioctl(fd, BLKGETSIZE64, &size) != 0) size = 0;
  } else {
    size = uint64_t(st.st_size);
  }
  return std::unique_ptr<BlockReader>(new FileReader(path, fd, size));
}

class IscsiReader : public BlockReader {
 public:
  IscsiReader(std::vector<IscsiUrl> urls, int64_t timeout_ns)
      : urls_(std::move(urls)), timeout_ns_(timeout_ns) {}

  Status Connect() {
    std::string errors;
    for (size_t i = 0; i < urls_.size(); ++i) {
      Status s = ConnectTo((current_ + i) % urls_.size());
      if (s.ok()) return s;
      if (s.code() == Status::Code::kInvalidInput) return s;
      errors += (errors.empty() ? "" : "; ") + s.message();
    }
    return Status::Unavailable("no path to the LUN answers: " + errors);
  }

  Status Read(uint64_t offset, uint32_t length, uint8_t* buf) override {
    std::string errors;
    for (size_t attempt = 0; attempt < urls_.size(); ++attempt) {
      if (!ctx_) {
        Status c = ConnectTo((current_ + attempt) % urls_.size());
        if (!c.ok()) {
          errors += (errors.empty() ? "" : "; ") + c.message();
          continue;
        }
      }
      const IscsiUrl& u = urls_[current_];
      auto rd = RunCommandSync(
          ctx_.get(), u, "READ(16)", timeout_ns_, [&](iscsi_context* c, IscsiTaskCallback cb, void* w) {
            return iscsi_read16_task(c, u.lun, offset / block_, length, int(block_), 0, 0, 0, 0, 0, cb, w);
          });
      if (rd.ok() && (*rd)->datain.size >= int(length)) {
        memcpy(buf, (*rd)->datain.data, length);
        return Status::Ok();
      }
      errors += (errors.empty() ? "" : "; ") +
                (rd.ok() ? u.url + ": READ(16) returned " + std::to_string((*rd)->datain.size) + " bytes"
                         : rd.status().message());
      ctx_.reset();  // the next attempt logs in again, on the next portal
      current_ = (current_ + 1) % urls_.size();
    }
    return Status::IoError("read of " + std::to_string(length) + " bytes at " + std::to_string(offset) +
                           ": " + errors);
  }
  uint64_t size_bytes() const override { return size_; }
  uint32_t logical_block_bytes() const override { return block_; }

 private:
  Status ConnectTo(size_t i) {
    auto ctx = NewIscsiContext(urls_[i]);
    if (!ctx.ok()) return ctx.status();
    FB_RETURN_IF_ERROR(ConnectSync(ctx->get(), urls_[i], timeout_ns_));
    auto cap = RunCommandSync(ctx->get(), urls_[i], "READ CAPACITY(16)", timeout_ns_,
                              [&](iscsi_context* c, IscsiTaskCallback cb, void* w) {
                                return iscsi_readcapacity16_task(c, urls_[i].lun, cb, w);
                              });
    if (!cap.ok()) return cap.status();
    auto* rc16 = static_cast<scsi_readcapacity16*>(scsi_datain_unmarshall(cap->get()));
    if (!rc16 || rc16->block_length == 0)
      return Status::IoError(urls_[i].url + ": cannot parse READ CAPACITY(16) data");
    block_ = rc16->block_length;
    size_ = (rc16->returned_lba + 1) * uint64_t(rc16->block_length);
    ctx_ = std::move(*ctx);
    current_ = i;
    return Status::Ok();
  }

  std::vector<IscsiUrl> urls_;
  int64_t timeout_ns_;
  IscsiContextPtr ctx_;
  size_t current_ = 0;
  uint32_t block_ = 512;
  uint64_t size_ = 0;
};

}  // namespace

Result<std::unique_ptr<BlockReader>> OpenBlockReader(const std::vector<std::string>& targets, bool direct,
                                                     int64_t timeout_ns) {
  if (targets.empty()) return Status::InvalidInput("no target to read");
  if (targets[0].rfind("iscsi://", 0) != 0) {
    if (targets.size() > 1) return Status::InvalidInput("more than one target to read: " + targets[1]);
    return OpenFile(targets[0], direct);
  }
  std::vector<IscsiUrl> urls;
  for (const auto& t : targets) {
    auto u = ParseIscsiUrl(t);
    if (!u.ok()) return u.status();
    urls.push_back(*u);
  }
  auto r = std::make_unique<IscsiReader>(std::move(urls), timeout_ns);
  FB_RETURN_IF_ERROR(r->Connect());
  return std::unique_ptr<BlockReader>(std::move(r));
}

}  // namespace fb
