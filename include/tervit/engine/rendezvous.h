#pragma once
// Where a data-parallel process stands and where its group meets, read from the variables launchers
// already set: torchrun's (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT; tools/launch.sh sets
// the same) and SLURM's (SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID, the first host of
// SLURM_JOB_NODELIST; MASTER_ADDR and MASTER_PORT still win when set). torchrun's take precedence, so
// torchrun inside a SLURM allocation works.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

namespace tervit::engine {

struct Rendezvous {
  int64_t rank = 0;
  int64_t world_size = 1;
  int64_t local_rank = 0;  // index on its machine: picks the GPU
  std::string master_addr;  // rank 0's host, which serves the TCPStore
  int master_port = 29500;
  std::string launcher;  // "torchrun" or "SLURM": which variables the values came from, for messages
};

// Looks a variable up; nullopt when it is not set.
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;

// nullopt when neither torchrun's nor SLURM's variables are set (a plain single process). Throws
// tervit::Error naming the variable when one is missing, not a number, or inconsistent with the others
// (RANK >= WORLD_SIZE, a port outside 1-65535, ...).
std::optional<Rendezvous> rendezvous_from(const EnvLookup& lookup);
std::optional<Rendezvous> rendezvous_from_environment();

// The first host of a SLURM node list: "node[03-05,07],gpu2" -> "node03", "rack[1-2]-n[01-04]" ->
// "rack1-n01". Throws tervit::Error for an empty list or unbalanced brackets.
std::string first_slurm_host(const std::string& nodelist);

}  // namespace tervit::engine
