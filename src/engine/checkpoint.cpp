#include "tervit/engine/checkpoint.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>

#include "tervit/core/atomic_file.h"
#include "tervit/core/error.h"
#include "tervit/core/file_bytes.h"

namespace tervit::engine {

namespace fs = std::filesystem;

namespace {

constexpr const char* kStateFile = "trainer_state.json";

bool is_hidden(const fs::path& path) { return path.filename().string().rfind('.', 0) == 0; }

// A fresh hidden folder beside `folder` to build it in.
fs::path temporary_folder(const fs::path& folder) {
  for (int attempt = 0;; ++attempt) {
    const auto candidate = folder.parent_path() / ("." + folder.filename().string() + ".tmp." +
                                                   std::to_string(::getpid()) + "." + std::to_string(attempt));
    std::error_code error;
    if (fs::create_directory(candidate, error)) return candidate;
    if (error) throw Error(candidate.string() + ": cannot create the checkpoint's temporary folder: " + error.message());
  }
}

void remove_quietly(const fs::path& path) {
  std::error_code ignored;
  fs::remove_all(path, ignored);
}

// Writes every part into a new hidden folder; returns it. Removes it again when a part fails.
fs::path write_parts(const fs::path& folder, const Checkpoint& c) {
  fs::create_directories(folder.parent_path());
  const auto temp = temporary_folder(folder);
  try {
    write_safetensors(temp / "model.safetensors", c.model, c.model_metadata);
    write_safetensors(temp / "quantizers.safetensors", c.quantizers);
    write_safetensors(temp / "optimizer.safetensors", c.optimizer);
    if (!c.ema.empty()) write_safetensors(temp / "ema.safetensors", c.ema);
    write_safetensors(temp / "diagnostics.safetensors", c.diagnostics);
    write_file_atomically(temp / "config.yaml", c.config_yaml);
    // Written last: a folder holding it has every other part.
    write_file_atomically(temp / kStateFile, trainer_state_json(c.state));
  } catch (...) {
    remove_quietly(temp);
    throw;
  }
  return temp;
}

void rename_into_place(const fs::path& from, const fs::path& to) {
  if (std::rename(from.c_str(), to.c_str()) != 0) {
    const std::string reason = std::strerror(errno);
    remove_quietly(from);
    throw Error(to.string() + ": cannot move the written checkpoint into place: " + reason);
  }
  sync_directory(to.parent_path());
}

}  // namespace

std::string checkpoint_name(int64_t global_step) {
  char name[32];
  std::snprintf(name, sizeof name, "step-%09lld", static_cast<long long>(global_step));
  return name;
}

void write_checkpoint(const fs::path& folder, const Checkpoint& checkpoint) {
  if (fs::exists(folder)) throw Error(folder.string() + ": a checkpoint of this name exists already");
  rename_into_place(write_parts(folder, checkpoint), folder);
}

void replace_checkpoint(const fs::path& folder, const Checkpoint& checkpoint) {
  const auto temp = write_parts(folder, checkpoint);
  const auto old = folder.parent_path() / ("." + folder.filename().string() + ".old");
  remove_quietly(old);
  if (fs::exists(folder) && std::rename(folder.c_str(), old.c_str()) != 0) {
    remove_quietly(temp);
    throw Error(folder.string() + ": cannot move the previous checkpoint aside: " + std::strerror(errno));
  }
  rename_into_place(temp, folder);
  remove_quietly(old);
}

Checkpoint read_checkpoint(const fs::path& folder) {
  if (!fs::is_directory(folder)) throw Error(folder.string() + ": not a checkpoint folder");
  if (!fs::exists(folder / kStateFile)) throw Error(folder.string() + ": incomplete checkpoint (no " + kStateFile + ")");
  Checkpoint c;
  auto model = read_safetensors(folder / "model.safetensors");
  c.model = std::move(model.tensors);
  c.model_metadata = std::move(model.metadata);
  c.quantizers = read_safetensors(folder / "quantizers.safetensors").tensors;
  c.optimizer = read_safetensors(folder / "optimizer.safetensors").tensors;
  if (fs::exists(folder / "ema.safetensors")) c.ema = read_safetensors(folder / "ema.safetensors").tensors;
  c.diagnostics = read_safetensors(folder / "diagnostics.safetensors").tensors;
  c.config_yaml = read_file_text(folder / "config.yaml");
  c.state = parse_trainer_state(read_file_text(folder / kStateFile), (folder / kStateFile).string());
  return c;
}

std::vector<fs::path> step_checkpoints(const fs::path& checkpoints_dir) {
  std::vector<fs::path> found;
  if (!fs::is_directory(checkpoints_dir)) return found;
  for (const auto& entry : fs::directory_iterator(checkpoints_dir)) {
    const auto name = entry.path().filename().string();
    if (entry.is_directory() && name.rfind("step-", 0) == 0 && fs::exists(entry.path() / kStateFile))
      found.push_back(entry.path());
  }
  // By step number: the names' 9 padded digits sort as text only up to step 10^9 - 1.
  const auto step = [](const fs::path& folder) { return std::strtoll(folder.filename().c_str() + 5, nullptr, 10); };
  std::sort(found.begin(), found.end(), [&](const fs::path& a, const fs::path& b) { return step(a) < step(b); });
  return found;
}

std::vector<fs::path> checkpoint_folders(const fs::path& checkpoints_dir) {
  std::vector<fs::path> found;
  std::error_code error;
  for (fs::directory_iterator it(checkpoints_dir, error), end; !error && it != end; it.increment(error))
    if (!is_hidden(it->path())) found.push_back(it->path());
  std::sort(found.begin(), found.end());
  return found;
}

void prune_checkpoints(const fs::path& checkpoints_dir, int64_t keep) {
  const auto all = step_checkpoints(checkpoints_dir);
  for (size_t i = 0; i + static_cast<size_t>(keep) < all.size(); ++i) remove_quietly(all[i]);
  for (const auto& entry : fs::directory_iterator(checkpoints_dir))
    if (is_hidden(entry.path())) remove_quietly(entry.path());
}

}  // namespace tervit::engine
