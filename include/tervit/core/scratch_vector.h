#pragma once
// ScratchVector<T>: a std::vector whose resize leaves new elements of a trivial type uninitialized, for
// buffers that are written whole before they are read and kept from one call to the next while their size
// goes up and down (a plain vector zero-fills every regrowth: 1% of a batch-1 Swin forward).
#include <memory>
#include <new>
#include <type_traits>
#include <utility>
#include <vector>

namespace tervit {

template <class T>
struct DefaultInitAllocator : std::allocator<T> {
  template <class U>
  struct rebind {
    using other = DefaultInitAllocator<U>;
  };
  DefaultInitAllocator() = default;
  template <class U>
  DefaultInitAllocator(const DefaultInitAllocator<U>&) noexcept {}

  // Value-less construction (resize's new elements) default-initializes: a no-op for trivial types.
  template <class U>
  void construct(U* p) noexcept(std::is_nothrow_default_constructible_v<U>) {
    ::new (static_cast<void*>(p)) U;
  }
  template <class U, class... Args>
  void construct(U* p, Args&&... args) {
    ::new (static_cast<void*>(p)) U(std::forward<Args>(args)...);
  }
};

template <class T>
using ScratchVector = std::vector<T, DefaultInitAllocator<T>>;

}  // namespace tervit
