// Where a data-parallel process stands, from torchrun's and SLURM's variables.
#include <catch2/catch.hpp>

#include <map>

#include "tervit/engine/rendezvous.h"

using tervit::engine::first_slurm_host;
using tervit::engine::Rendezvous;

namespace {

std::optional<Rendezvous> from(const std::map<std::string, std::string>& variables) {
  return tervit::engine::rendezvous_from([&](const std::string& name) -> std::optional<std::string> {
    const auto found = variables.find(name);
    if (found == variables.end()) return std::nullopt;
    return found->second;
  });
}

}  // namespace

TEST_CASE("SLURM node lists give their first host", "[engine][dist]") {
  CHECK(first_slurm_host("node07") == "node07");
  CHECK(first_slurm_host("node[03-05,07]") == "node03");
  CHECK(first_slurm_host("node[7,3-5]") == "node7");
  CHECK(first_slurm_host("gpu-a100-[001-016],cpu[1-2]") == "gpu-a100-001");
  CHECK(first_slurm_host("login1,node[1-2]") == "login1");
  CHECK(first_slurm_host("rack[2-3]-n[01-04]") == "rack2-n01");
  CHECK_THROWS_WITH(first_slurm_host("node[1-2"), Catch::Contains("node[1-2") && Catch::Contains("brackets"));
  CHECK_THROWS_WITH(first_slurm_host("node]1["), Catch::Contains("brackets"));
  CHECK_THROWS_WITH(first_slurm_host(""), Catch::Contains("no host"));
}

TEST_CASE("torchrun's variables, SLURM's, none, and inconsistent ones", "[engine][dist]") {
  CHECK_FALSE(from({}).has_value());
  CHECK_FALSE(from({{"MASTER_ADDR", "10.0.0.1"}, {"SLURM_JOB_NODELIST", "n[1-2]"}}).has_value());  // no rank given

  const auto torchrun = from({{"RANK", "3"}, {"WORLD_SIZE", "8"}, {"LOCAL_RANK", "1"}, {"MASTER_ADDR", "node1"}, {"MASTER_PORT", "29501"}});
  REQUIRE(torchrun.has_value());
  CHECK(torchrun->rank == 3);
  CHECK(torchrun->world_size == 8);
  CHECK(torchrun->local_rank == 1);
  CHECK(torchrun->master_addr == "node1");
  CHECK(torchrun->master_port == 29501);
  CHECK(torchrun->launcher == "torchrun");

  std::map<std::string, std::string> slurm{{"SLURM_PROCID", "5"}, {"SLURM_NTASKS", "8"}, {"SLURM_LOCALID", "1"},
                                           {"SLURM_JOB_NODELIST", "gpu[12-15]"}};
  auto r = from(slurm);
  REQUIRE(r.has_value());
  CHECK(r->rank == 5);
  CHECK(r->world_size == 8);
  CHECK(r->local_rank == 1);
  CHECK(r->master_addr == "gpu12");
  CHECK(r->master_port == 29500);
  CHECK(r->launcher == "SLURM");
  slurm["MASTER_ADDR"] = "10.1.2.3";  // set by the batch script: wins over the node list
  slurm["MASTER_PORT"] = "12345";
  r = from(slurm);
  CHECK(r->master_addr == "10.1.2.3");
  CHECK(r->master_port == 12345);
  // torchrun started inside a SLURM allocation: torchrun's variables count.
  slurm.insert({{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"LOCAL_RANK", "0"}});
  CHECK(from(slurm)->launcher == "torchrun");
  CHECK(from(slurm)->world_size == 2);

  const auto rejected = [](const std::map<std::string, std::string>& variables, const std::string& message) {
    INFO(message);
    CHECK_THROWS_WITH(from(variables), Catch::Contains(message));
  };
  const std::map<std::string, std::string> good{
      {"RANK", "1"}, {"WORLD_SIZE", "2"}, {"LOCAL_RANK", "1"}, {"MASTER_ADDR", "127.0.0.1"}, {"MASTER_PORT", "29500"}};
  const auto with = [&](const std::string& name, const std::string& value) {
    auto variables = good;
    if (value.empty()) variables.erase(name);
    else variables[name] = value;
    return variables;
  };
  rejected(with("RANK", "2"), "RANK=2 is not below WORLD_SIZE=2");
  rejected(with("RANK", "one"), "RANK='one' is not an integer");
  rejected(with("RANK", "-1"), "RANK=-1 is out of range");
  rejected(with("WORLD_SIZE", "0"), "WORLD_SIZE=0 is out of range");
  rejected(with("WORLD_SIZE", "2x"), "WORLD_SIZE='2x'");
  rejected(with("MASTER_PORT", "70000"), "MASTER_PORT=70000 is out of range");
  rejected(with("MASTER_ADDR", ""), "MASTER_ADDR is not set");
  rejected(with("LOCAL_RANK", ""), "LOCAL_RANK is not set");
  rejected(with("WORLD_SIZE", ""), "WORLD_SIZE is not set");
  rejected({{"SLURM_PROCID", "4"}, {"SLURM_NTASKS", "4"}, {"SLURM_LOCALID", "0"}, {"SLURM_JOB_NODELIST", "n1"}},
           "SLURM_PROCID=4 is not below SLURM_NTASKS=4");
  rejected({{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "4"}, {"SLURM_JOB_NODELIST", "n1"}}, "SLURM_LOCALID is not set");
  rejected({{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "4"}, {"SLURM_LOCALID", "0"}}, "neither MASTER_ADDR nor SLURM_JOB_NODELIST");
  rejected({{"SLURM_PROCID", "0"}, {"SLURM_NTASKS", "4"}, {"SLURM_LOCALID", "0"}, {"SLURM_JOB_NODELIST", "n[1-4"}},
           "SLURM_JOB_NODELIST='n[1-4'");
}
