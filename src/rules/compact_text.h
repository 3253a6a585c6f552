// compact_text.h — an immutable string in 16 bytes, for the texts every rule carries (what the
// administrator wrote for its addresses and ports, its comment, interface and file): up to 15
// bytes are held in place, longer texts in one shared block that copies take a reference to.
// At 10^5 rules seven std::strings (32 bytes each, and a heap block for a long file path) were
// a third of the rules' memory; most of these texts are empty or as short as "10.0.0.0/24".
// A moved-from text is empty.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <new>
#include <string>
#include <string_view>

namespace portwall {

class CompactText {
 public:
  CompactText() { bytes_[kTag] = 0; }
  CompactText(std::string_view text) { make(text); }  // NOLINT: a text is made from one
  CompactText(const std::string& text) : CompactText(std::string_view(text)) {}  // NOLINT
  CompactText(const char* text) : CompactText(std::string_view(text)) {}         // NOLINT
  CompactText(const CompactText& other) {
    std::memcpy(bytes_, other.bytes_, sizeof bytes_);
    if (Block* b = block()) b->refs.fetch_add(1, std::memory_order_relaxed);
  }
  CompactText(CompactText&& other) noexcept {
    std::memcpy(bytes_, other.bytes_, sizeof bytes_);
    other.bytes_[kTag] = 0;
  }
  CompactText& operator=(const CompactText& other) {
    if (this != &other) {
      CompactText copy(other);
      swap(copy);
    }
    return *this;
  }
  CompactText& operator=(CompactText&& other) noexcept {
    if (this != &other) {
      release();
      std::memcpy(bytes_, other.bytes_, sizeof bytes_);
      other.bytes_[kTag] = 0;  // a moved-from text is empty
    }
    return *this;
  }
  ~CompactText() { release(); }

  std::string_view view() const {
    if (const Block* b = block()) return {b->chars(), b->size};
    return {reinterpret_cast<const char*>(bytes_), bytes_[kTag]};
  }
  operator std::string_view() const { return view(); }  // NOLINT: reads as the text it is
  std::string str() const { return std::string(view()); }
  bool empty() const { return view().empty(); }
  std::size_t size() const { return view().size(); }

  friend bool operator==(const CompactText& a, const CompactText& b) {
    return a.view() == b.view();
  }
  friend bool operator==(const CompactText& a, std::string_view b) { return a.view() == b; }
  friend bool operator==(const CompactText& a, const std::string& b) { return a.view() == b; }
  friend bool operator==(const CompactText& a, const char* b) { return a.view() == b; }
  friend auto operator<=>(const CompactText& a, const CompactText& b) {
    return a.view() <=> b.view();
  }
  friend std::string operator+(const CompactText& a, std::string_view b) {
    return a.str().append(b);
  }
  friend std::string operator+(std::string a, const CompactText& b) { return a.append(b.view()); }

  void swap(CompactText& other) noexcept {
    unsigned char t[sizeof bytes_];
    std::memcpy(t, bytes_, sizeof bytes_);
    std::memcpy(bytes_, other.bytes_, sizeof bytes_);
    std::memcpy(other.bytes_, t, sizeof bytes_);
  }

 private:
  static constexpr std::size_t kTag = 15;  // the last byte: length in place, or kShared
  static constexpr unsigned char kShared = 0xff;
  struct Block {
    std::atomic<std::uint32_t> refs;
    std::uint32_t size;
    const char* chars() const { return reinterpret_cast<const char*>(this + 1); }
  };

  void make(std::string_view text) {
    if (text.size() <= kTag) {
      std::memcpy(bytes_, text.data(), text.size());
      bytes_[kTag] = static_cast<unsigned char>(text.size());
      return;
    }
    void* raw = ::operator new(sizeof(Block) + text.size());
    Block* b = new (raw) Block{{1}, static_cast<std::uint32_t>(text.size())};
    std::memcpy(reinterpret_cast<char*>(b + 1), text.data(), text.size());
    std::memcpy(bytes_, &b, sizeof b);
    bytes_[kTag] = kShared;
  }
  Block* block() const {
    if (bytes_[kTag] != kShared) return nullptr;
    Block* b;
    std::memcpy(&b, bytes_, sizeof b);
    return b;
  }
  void release() {
    Block* b = block();
    if (b && b->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      b->~Block();
      ::operator delete(b);
    }
    bytes_[kTag] = 0;
  }

  alignas(8) unsigned char bytes_[16];
};

}  // namespace portwall

template <>
struct std::hash<portwall::CompactText> {
  std::size_t operator()(const portwall::CompactText& t) const noexcept {
    return std::hash<std::string_view>{}(t.view());
  }
};
