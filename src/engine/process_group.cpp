#include "tervit/engine/process_group.h"

#include <torch/csrc/distributed/c10d/TCPStore.hpp>
// A LibTorch may be built with a backend yet ship without its headers (pip wheels have no gloo/ headers;
// nccl.h comes from NVIDIA's own package): a backend is used only when both are there.
#if defined(USE_C10D_GLOO) && __has_include(<gloo/algorithm.h>)
#define TERVIT_HAS_GLOO 1
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#if defined(USE_C10D_NCCL) && __has_include(<nccl.h>)
#define TERVIT_HAS_NCCL 1
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <map>
#include <sstream>
#include <stdexcept>

#include "tervit/core/error.h"
#include "tervit/libtorch/torch_features.h"

namespace tervit::engine {

namespace {

// LibTorch 2.0 split c10d process groups into a ProcessGroup front and per-device Backends: Gloo and
// NCCL are Backends there, ProcessGroups in 1.13. Both have the collectives used here.
#if TERVIT_TORCH_HAS_C10D_BACKENDS
using Backend = c10d::Backend;
#else
using Backend = c10d::ProcessGroup;
#endif

std::string reason(const std::exception& e) {
  if (const auto* c10 = dynamic_cast<const c10::Error*>(&e)) return c10->what_without_backtrace();
  return e.what();
}

std::string seconds(std::chrono::milliseconds timeout) {
  std::ostringstream text;
  text << static_cast<double>(timeout.count()) / 1000.0 << " s";
  return text.str();
}

#ifdef TERVIT_HAS_GLOO
// Ranks that meet on the loopback address all run on this machine; otherwise the interfaces named by
// GLOO_SOCKET_IFNAME (as in PyTorch), else the address this machine's hostname resolves to.
std::vector<std::shared_ptr<::gloo::transport::Device>> gloo_devices(const std::string& master_addr) {
  std::vector<std::shared_ptr<::gloo::transport::Device>> devices;
  if (const char* interfaces = std::getenv("GLOO_SOCKET_IFNAME"); interfaces != nullptr && *interfaces != '\0') {
    std::istringstream names(interfaces);
    for (std::string name; std::getline(names, name, ',');)
      devices.push_back(c10d::ProcessGroupGloo::createDeviceForInterface(name));
  } else if (master_addr == "localhost" || master_addr.rfind("127.", 0) == 0) {
    devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
  } else {
    devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
  }
  return devices;
}
#endif

}  // namespace

struct PendingCollective::Impl {
  c10::intrusive_ptr<c10d::Work> work;
  std::string failure;  // what went wrong, when it did
  std::shared_ptr<std::atomic<bool>> group_failed;
};

PendingCollective::PendingCollective(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

void PendingCollective::wait() {
  try {
    impl_->work->wait();
  } catch (const std::exception& e) {
    *impl_->group_failed = true;
    throw std::runtime_error(impl_->failure + ": " + reason(e));
  }
}

struct ProcessGroup::Impl {
  Rendezvous rendezvous;
  torch::Device device;
  std::chrono::milliseconds timeout;
  std::string backend_name;
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<Backend> backend;
  std::shared_ptr<std::atomic<bool>> failed = std::make_shared<std::atomic<bool>>(false);

  std::string failure(const std::string& operation) const {
    return "distributed " + operation + " failed on rank " + std::to_string(rendezvous.rank) + " of " +
           std::to_string(rendezvous.world_size) + " (" + backend_name + "): another rank stopped, or did not get there within " +
           "runtime.dist_timeout_s (" + seconds(timeout) + ")";
  }

  template <typename Launch>
  PendingCollective start(const std::string& operation, Launch&& launch) {
    auto pending = std::make_shared<PendingCollective::Impl>();
    pending->failure = failure(operation);
    pending->group_failed = failed;
    try {
      pending->work = launch();
    } catch (const std::exception& e) {
      *failed = true;
      throw std::runtime_error(pending->failure + ": " + reason(e));
    }
    return PendingCollective(std::move(pending));
  }
};

ProcessGroup::ProcessGroup(const Rendezvous& rendezvous, const torch::Device& device, std::chrono::milliseconds timeout)
    : impl_(std::make_unique<Impl>(Impl{rendezvous, device, timeout, device.is_cuda() ? "nccl" : "gloo", {}, {}})) {
  auto& s = *impl_;
  // A peer that died must give an error here, not end this process silently on the write to its socket.
  std::signal(SIGPIPE, SIG_IGN);
  const auto where = rendezvous.master_addr + ":" + std::to_string(rendezvous.master_port);
  c10d::TCPStoreOptions store_options;
  store_options.port = static_cast<uint16_t>(rendezvous.master_port);
  store_options.isServer = rendezvous.rank == 0;
  store_options.numWorkers = static_cast<size_t>(rendezvous.world_size);
  store_options.waitWorkers = true;
  store_options.timeout = timeout;
  try {
    s.store = c10::make_intrusive<c10d::TCPStore>(rendezvous.master_addr, store_options);
  } catch (const std::exception& e) {
    throw std::runtime_error("distributed rendezvous failed: rank " + std::to_string(rendezvous.rank) + " of " +
                             std::to_string(rendezvous.world_size) + " could not " +
                             (rendezvous.rank == 0 ? "serve the TCPStore on port " + std::to_string(rendezvous.master_port) +
                                                         " and see every rank join"
                                                   : "reach rank 0's TCPStore at " + where) +
                             " within runtime.dist_timeout_s (" + seconds(timeout) + "; values from " + rendezvous.launcher +
                             "'s variables): " + reason(e));
  }
  try {
    if (device.is_cuda()) {
#ifdef TERVIT_HAS_NCCL
      // Without asynchronous error handling a dead peer leaves NCCL kernels waiting forever; with it the
      // watchdog ends the process once the timeout passes. PyTorch reads both names (old and new).
      setenv("TORCH_NCCL_ASYNC_ERROR_HANDLING", "1", /*overwrite=*/0);
      setenv("NCCL_ASYNC_ERROR_HANDLING", "1", /*overwrite=*/0);
      auto options = c10d::ProcessGroupNCCL::Options::create();
      options->timeout = timeout;
      s.backend = c10::make_intrusive<c10d::ProcessGroupNCCL>(s.store, static_cast<int>(rendezvous.rank),
                                                              static_cast<int>(rendezvous.world_size), options);
#else
      throw Error("distributed training on " + device.str() + " needs NCCL: a LibTorch built with it, and nccl.h; tervit was built (against LibTorch " +
                  TORCH_VERSION + ") without them. Train on --device cpu (Gloo) or build against a CUDA LibTorch with NCCL");
#endif
    } else {
#ifdef TERVIT_HAS_GLOO
      auto options = c10d::ProcessGroupGloo::Options::create(timeout);
      options->devices = gloo_devices(rendezvous.master_addr);
      options->threads = 2;
      s.backend = c10::make_intrusive<c10d::ProcessGroupGloo>(s.store, static_cast<int>(rendezvous.rank),
                                                              static_cast<int>(rendezvous.world_size), options);
#else
      throw Error(std::string("distributed training on the CPU needs Gloo: a LibTorch built with it, and its gloo/ headers; "
                              "tervit was built (against LibTorch ") + TORCH_VERSION + ") without them. Train on CUDA (NCCL) or build "
                  "against a LibTorch that ships them (Debian's libtorch-dev with libgloo-dev)");
#endif
    }
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw std::runtime_error(s.failure("connection set-up") + ": " + reason(e));
  }
}

ProcessGroup::~ProcessGroup() {
  // After a failure the backend may hold queued collectives that would each wait out the timeout
  // before it can be destroyed; the process is ending with an error, so it is left as it is.
  if (*impl_->failed) {
    (void)impl_->backend.release();
    (void)impl_->store.release();
  }
}

bool ProcessGroup::backend_available(const torch::Device& device) {
#ifdef TERVIT_HAS_NCCL
  if (device.is_cuda()) return true;
#endif
#ifdef TERVIT_HAS_GLOO
  if (device.is_cpu()) return true;
#endif
  return false;
}

int64_t ProcessGroup::rank() const { return impl_->rendezvous.rank; }
int64_t ProcessGroup::world_size() const { return impl_->rendezvous.world_size; }
const torch::Device& ProcessGroup::device() const { return impl_->device; }
std::string ProcessGroup::backend_name() const { return impl_->backend_name; }

PendingCollective ProcessGroup::all_reduce_sum(torch::Tensor tensor) {
  return impl_->start("all-reduce", [&] {
    std::vector<at::Tensor> tensors{std::move(tensor)};
    return impl_->backend->allreduce(tensors);
  });
}

void ProcessGroup::broadcast(const std::vector<torch::Tensor>& tensors, int64_t root) {
  torch::NoGradGuard no_grad;
  // One flat buffer per dtype: one collective each instead of one per tensor. Gloo has no bool sums.
  std::map<c10::ScalarType, std::vector<torch::Tensor>> by_type;
  for (const auto& t : tensors) by_type[t.scalar_type()].push_back(t);
  for (auto& [type, group] : by_type) {
    std::vector<torch::Tensor> flat_parts;
    for (const auto& t : group) flat_parts.push_back(t.detach().reshape(-1).to(impl_->device, type == torch::kBool ? torch::kUInt8 : type));
    auto flat = torch::cat(flat_parts);
    impl_->start("broadcast", [&] {
           std::vector<at::Tensor> buffers{flat};
           c10d::BroadcastOptions options;
           options.rootRank = root;
           return impl_->backend->broadcast(buffers, options);
         })
        .wait();
    int64_t offset = 0;
    for (auto& t : group) {
      t.copy_(flat.narrow(0, offset, t.numel()).view(t.sizes()));
      offset += t.numel();
    }
  }
}

torch::Device device_for_local_rank(const torch::Device& requested, const Rendezvous& rendezvous) {
  if (!requested.is_cuda()) return requested;
  const auto visible = static_cast<int64_t>(torch::cuda::device_count());
  // A launcher that binds one GPU to each process (SLURM's --gpus-per-task) leaves each one GPU 0.
  const int64_t index = visible == 1 ? 0 : rendezvous.local_rank;
  if (index >= visible)
    throw Error("local rank " + std::to_string(rendezvous.local_rank) + " (from " + rendezvous.launcher +
                ") has no GPU of its own: this process sees " + std::to_string(visible) + " CUDA devices");
  if (requested.has_index() && requested.index() != index)
    throw Error("--device " + requested.str() + ": a data-parallel process trains on its local rank's GPU (cuda:" +
                std::to_string(index) + "); give --device cuda");
  return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index));
}

}  // namespace tervit::engine
