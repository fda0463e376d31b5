#include "tervit/engine/gradient_reducer.h"

#include <torch/csrc/autograd/function.h>
#include <torch/csrc/autograd/utils/lambda_post_hook.h>
#include <torch/csrc/autograd/variable.h>

#include <chrono>
#include <optional>
#include <unordered_set>

namespace tervit::engine {

namespace {

struct Bucket {
  std::vector<size_t> members;  // indices into the reducer's parameters
  std::vector<int64_t> offsets;
  torch::Tensor flat;
  int64_t missing = 0;  // gradients of this pass not in yet
  std::optional<PendingCollective> reduction;
};

}  // namespace

struct GradientReducer::Impl {
  std::vector<torch::Tensor> parameters;
  std::shared_ptr<ProcessGroup> group;
  GradientReducerOptions options;
  std::vector<Bucket> buckets;
  std::vector<size_t> bucket_of, slot_of;  // per parameter
  std::vector<bool> arrived;
  std::vector<int64_t> arrival_order;  // of the first reducing pass, for rebuilding the buckets
  bool rebuilt = false;
  bool reducing = false;
  size_t next_to_start = 0;
  double finish_seconds = 0;
  // The accumulators are held so that they (and the hooks on them) outlive each backward graph; held by
  // whatever pointer this LibTorch hands them out as (a shared_ptr until 2.x, an intrusive_ptr since).
  using AccumulatorPtr = decltype(torch::autograd::impl::grad_accumulator(std::declval<const torch::Tensor&>()));
  std::vector<std::pair<AccumulatorPtr, uintptr_t>> hooks;

  // Buckets of consecutive parameters of `order`, one dtype and device each.
  void build_buckets(const std::vector<int64_t>& order) {
    buckets.clear();
    bucket_of.assign(parameters.size(), 0);
    slot_of.assign(parameters.size(), 0);
    int64_t bytes = 0;
    for (const int64_t index : order) {
      const auto& p = parameters[static_cast<size_t>(index)];
      const int64_t size = p.numel() * static_cast<int64_t>(p.element_size());
      const bool same_kind = !buckets.empty() && parameters[buckets.back().members.front()].scalar_type() == p.scalar_type() &&
                             parameters[buckets.back().members.front()].device() == p.device();
      // A small first bucket starts communication early in backward, as DDP's does.
      const int64_t cap = buckets.size() == 1 ? options.first_bucket_bytes : options.bucket_bytes;
      const bool fits = same_kind && bytes + size <= cap;
      if (!fits) {
        buckets.emplace_back();
        bytes = 0;
      }
      auto& bucket = buckets.back();
      bucket_of[static_cast<size_t>(index)] = buckets.size() - 1;
      slot_of[static_cast<size_t>(index)] = bucket.members.size();
      bucket.offsets.push_back(bucket.members.empty() ? 0 : bucket.offsets.back() + parameters[bucket.members.back()].numel());
      bucket.members.push_back(static_cast<size_t>(index));
      bytes += size;
    }
    for (auto& bucket : buckets) {
      const auto& last = parameters[bucket.members.back()];
      bucket.flat = torch::zeros({bucket.offsets.back() + last.numel()}, last.options().requires_grad(false));
    }
  }

  torch::Tensor slot(const Bucket& bucket, size_t member) const {
    const auto& p = parameters[bucket.members[member]];
    return bucket.flat.narrow(0, bucket.offsets[member], p.numel());
  }

  void copy_in(size_t index) {
    const auto& bucket = buckets[bucket_of[index]];
    const auto& grad = parameters[index].grad();
    auto target = slot(bucket, slot_of[index]);
    if (grad.defined()) target.copy_(grad.reshape(-1));
    else target.zero_();
  }

  void start_ready_buckets() {
    while (next_to_start < buckets.size() && buckets[next_to_start].missing == 0) {
      auto& bucket = buckets[next_to_start++];
      // Dividing first, as DDP does, keeps fp16 sums in range.
      bucket.flat.div_(static_cast<double>(group->world_size()));
      bucket.reduction = group->all_reduce_sum(bucket.flat);
    }
  }

  void on_gradient(size_t index) {
    if (!reducing || arrived[index]) return;
    arrived[index] = true;
    if (!rebuilt) arrival_order.push_back(static_cast<int64_t>(index));
    torch::NoGradGuard no_grad;
    copy_in(index);
    --buckets[bucket_of[index]].missing;
    start_ready_buckets();
  }

  // The first pass's arrival order (rank 0's, so that every rank builds the same buckets), then the
  // tensors that got no gradient.
  void rebuild_in_arrival_order() {
    std::vector<bool> listed(parameters.size(), false);
    for (const int64_t index : arrival_order) listed[static_cast<size_t>(index)] = true;
    for (size_t i = parameters.size(); i-- > 0;)
      if (!listed[i]) arrival_order.push_back(static_cast<int64_t>(i));
    auto order = torch::tensor(arrival_order, torch::kInt64).to(group->device());
    group->broadcast({order});
    order = order.cpu();
    build_buckets({order.data_ptr<int64_t>(), order.data_ptr<int64_t>() + order.numel()});
    rebuilt = true;
  }
};

GradientReducer::GradientReducer(const std::vector<torch::Tensor>& parameters, std::shared_ptr<ProcessGroup> group,
                                 GradientReducerOptions options)
    : impl_(std::make_unique<Impl>()) {
  auto& s = *impl_;
  s.group = std::move(group);
  s.options = options;
  std::unordered_set<const void*> seen;
  for (const auto& p : parameters)
    if (p.requires_grad() && seen.insert(p.unsafeGetTensorImpl()).second) s.parameters.push_back(p);
  // Backward produces gradients roughly in reverse order of use: a first guess until the first pass.
  std::vector<int64_t> reversed;
  for (size_t i = s.parameters.size(); i-- > 0;) reversed.push_back(static_cast<int64_t>(i));
  s.build_buckets(reversed);
  s.arrived.assign(s.parameters.size(), false);
  for (size_t i = 0; i < s.parameters.size(); ++i) {
    auto accumulator = torch::autograd::impl::grad_accumulator(s.parameters[i]);
    Impl* impl = impl_.get();
    const auto key = accumulator->add_post_hook(std::make_unique<torch::autograd::utils::LambdaPostHook>(
        [impl, i](const torch::autograd::variable_list& outputs, const torch::autograd::variable_list&) {
          impl->on_gradient(i);
          return outputs;
        }));
    s.hooks.emplace_back(std::move(accumulator), key);
  }
}

GradientReducer::~GradientReducer() {
  for (auto& [accumulator, key] : impl_->hooks) accumulator->del_post_hook(key);
}

void GradientReducer::prepare(bool reduce) {
  auto& s = *impl_;
  s.reducing = reduce;
  s.next_to_start = 0;
  std::fill(s.arrived.begin(), s.arrived.end(), false);
  for (auto& bucket : s.buckets) {
    bucket.missing = static_cast<int64_t>(bucket.members.size());
    bucket.reduction.reset();
  }
}

void GradientReducer::finish() {
  auto& s = *impl_;
  const auto start = std::chrono::steady_clock::now();
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < s.parameters.size(); ++i)
    if (!s.arrived[i]) {
      s.copy_in(i);
      --s.buckets[s.bucket_of[i]].missing;
    }
  s.start_ready_buckets();
  for (auto& bucket : s.buckets) {
    bucket.reduction->wait();
    for (size_t m = 0; m < bucket.members.size(); ++m) {
      auto& p = s.parameters[bucket.members[m]];
      if (p.grad().defined()) p.mutable_grad().copy_(s.slot(bucket, m).view(p.sizes()));
    }
  }
  s.reducing = false;
  if (!s.rebuilt) s.rebuild_in_arrival_order();
  s.finish_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

int64_t GradientReducer::bucket_count() const { return static_cast<int64_t>(impl_->buckets.size()); }

double GradientReducer::last_finish_seconds() const { return impl_->finish_seconds; }

}  // namespace tervit::engine
