#include "tervit/engine/rendezvous.h"

#include <cstdlib>

#include "tervit/core/error.h"

namespace tervit::engine {

namespace {

std::optional<std::string> non_empty(const EnvLookup& lookup, const std::string& name) {
  auto value = lookup(name);
  if (value && value->empty()) return std::nullopt;
  return value;
}

std::string required(const EnvLookup& lookup, const std::string& name, const std::string& launcher) {
  const auto value = non_empty(lookup, name);
  if (!value) throw Error(name + " is not set, but other " + launcher + " variables are (a data-parallel launch needs it)");
  return *value;
}

int64_t parse_count(const std::string& name, const std::string& text, int64_t min, int64_t max) {
  size_t used = 0;
  int64_t value = 0;
  try {
    value = std::stoll(text, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != text.size()) throw Error(name + "='" + text + "' is not an integer");
  if (value < min || value > max)
    throw Error(name + "=" + text + " is out of range, expected " + std::to_string(min) + " to " + std::to_string(max));
  return value;
}

// Checks the values against each other, naming the variables they came from.
Rendezvous checked(Rendezvous r, const std::string& rank_name, const std::string& world_name) {
  if (r.rank >= r.world_size)
    throw Error(rank_name + "=" + std::to_string(r.rank) + " is not below " + world_name + "=" + std::to_string(r.world_size));
  return r;
}

}  // namespace

std::string first_slurm_host(const std::string& nodelist) {
  int depth = 0;
  for (const char c : nodelist) {
    depth += c == '[' ? 1 : c == ']' ? -1 : 0;
    if (depth < 0 || depth > 1) throw Error("SLURM_JOB_NODELIST='" + nodelist + "' has unbalanced or nested brackets");
  }
  if (depth != 0) throw Error("SLURM_JOB_NODELIST='" + nodelist + "' has unbalanced or nested brackets");
  // The first entry at bracket depth 0, each bracket group replaced by its first value.
  std::string host;
  bool past_first_value = false;
  for (const char c : nodelist) {
    if (c == '[') {
      ++depth;
      past_first_value = false;
    } else if (c == ']') {
      --depth;
    } else if (depth == 0) {
      if (c == ',') break;
      host += c;
    } else if (c == '-' || c == ',') {
      past_first_value = true;
    } else if (!past_first_value) {
      host += c;
    }
  }
  if (host.empty()) throw Error("SLURM_JOB_NODELIST='" + nodelist + "' names no host");
  return host;
}

std::optional<Rendezvous> rendezvous_from(const EnvLookup& lookup) {
  const auto master_addr = non_empty(lookup, "MASTER_ADDR");
  const auto master_port = non_empty(lookup, "MASTER_PORT");
  if (non_empty(lookup, "RANK") || non_empty(lookup, "WORLD_SIZE") || non_empty(lookup, "LOCAL_RANK")) {
    const std::string launcher = "torchrun";
    Rendezvous r;
    r.launcher = launcher;
    r.world_size = parse_count("WORLD_SIZE", required(lookup, "WORLD_SIZE", launcher), 1, 1 << 20);
    r.rank = parse_count("RANK", required(lookup, "RANK", launcher), 0, 1 << 20);
    r.local_rank = parse_count("LOCAL_RANK", required(lookup, "LOCAL_RANK", launcher), 0, 1 << 20);
    r.master_addr = required(lookup, "MASTER_ADDR", launcher);
    r.master_port = static_cast<int>(parse_count("MASTER_PORT", required(lookup, "MASTER_PORT", launcher), 1, 65535));
    return checked(r, "RANK", "WORLD_SIZE");
  }
  if (non_empty(lookup, "SLURM_PROCID") && non_empty(lookup, "SLURM_NTASKS")) {
    const std::string launcher = "SLURM";
    Rendezvous r;
    r.launcher = launcher;
    r.world_size = parse_count("SLURM_NTASKS", *non_empty(lookup, "SLURM_NTASKS"), 1, 1 << 20);
    r.rank = parse_count("SLURM_PROCID", *non_empty(lookup, "SLURM_PROCID"), 0, 1 << 20);
    r.local_rank = parse_count("SLURM_LOCALID", required(lookup, "SLURM_LOCALID", launcher), 0, 1 << 20);
    if (master_addr) {
      r.master_addr = *master_addr;
    } else if (const auto nodelist = non_empty(lookup, "SLURM_JOB_NODELIST")) {
      r.master_addr = first_slurm_host(*nodelist);
    } else {
      throw Error("neither MASTER_ADDR nor SLURM_JOB_NODELIST is set, but other SLURM variables are: rank 0's host is unknown");
    }
    if (master_port) r.master_port = static_cast<int>(parse_count("MASTER_PORT", *master_port, 1, 65535));
    return checked(r, "SLURM_PROCID", "SLURM_NTASKS");
  }
  return std::nullopt;
}

std::optional<Rendezvous> rendezvous_from_environment() {
  return rendezvous_from([](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  });
}

}  // namespace tervit::engine
