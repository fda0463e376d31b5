#include "test_helpers.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <random>
#include <sstream>
#include <stdexcept>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "models/pretrained.h"
#include "models/registry.h"
#include "tervit/libtorch/safetensors.h"

namespace tervit::testing {

models::VisionModel fixture_model(const std::string& name) {
  const auto weights = read_safetensors(timm_fixture(name + ".safetensors"));
  auto model = models::create_model(models::model_architecture(weights.metadata.at("family"), YAML::Load(weights.metadata.at("config"))));
  models::load_weights(*model, weights, name);
  model->eval();
  return model;
}

void claim_jpeg_size(std::vector<uint8_t>& jpeg, uint16_t width, uint16_t height) {
  size_t frame = 2;
  while (frame + 9 < jpeg.size() && !(jpeg[frame] == 0xFF && (jpeg[frame + 1] == 0xC0 || jpeg[frame + 1] == 0xC2))) ++frame;
  if (frame + 9 >= jpeg.size()) throw std::invalid_argument("claim_jpeg_size: no start-of-frame header");
  // Big-endian 16 bits: height at +5, width at +7.
  jpeg[frame + 5] = static_cast<uint8_t>(height >> 8);
  jpeg[frame + 6] = static_cast<uint8_t>(height & 0xFF);
  jpeg[frame + 7] = static_cast<uint8_t>(width >> 8);
  jpeg[frame + 8] = static_cast<uint8_t>(width & 0xFF);
}

TempDir::TempDir() {
  std::random_device random;
  const auto base = std::filesystem::temp_directory_path();
  do {
    path_ = base / ("tervit-test-" + std::to_string(random()));
  } while (!std::filesystem::create_directory(path_));
}

TempDir::~TempDir() {
  std::error_code ignored;
  // A test may have made the folder read-only to provoke write failures.
  std::filesystem::permissions(path_, std::filesystem::perms::owner_all, std::filesystem::perm_options::add, ignored);
  std::filesystem::remove_all(path_, ignored);
}

std::vector<std::string> TempDir::entries() const {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(path_)) names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

std::vector<uint8_t> read_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const std::filesystem::path& path, const std::vector<uint8_t>& bytes, size_t count) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(std::min(count, bytes.size())));
}

void skip_test(const std::string& reason) { std::printf("tervit-test-skipped: %s\n", reason.c_str()); }

namespace {
std::filesystem::path from_environment(const char* variable, const char* built) {
  const char* value = std::getenv(variable);
  return value != nullptr && *value != '\0' ? value : built;
}
}  // namespace

std::filesystem::path source_dir() { return from_environment("TERVIT_SOURCE_DIR", TERVIT_SOURCE_DIR); }
std::filesystem::path binary_dir() { return from_environment("TERVIT_BINARY_DIR", TERVIT_BINARY_DIR); }
std::filesystem::path shared_dir() { return from_environment("TERVIT_SHARED_DIR", TERVIT_SHARED_DIR); }

std::string executable(const std::string& program) { return (binary_dir() / program).string(); }

Run run(const TempDir& dir, const std::string& program, const std::string& args, const std::string& shell_setup) {
  return run_command(dir, shell_setup + executable(program) + " " + args);
}

std::vector<nlohmann::json> json_lines(const std::string& text) {
  std::vector<nlohmann::json> lines;
  std::stringstream stream(text);
  for (std::string line; std::getline(stream, line);)
    if (!line.empty()) lines.push_back(nlohmann::json::parse(line));
  return lines;
}

Run run_command(const TempDir& dir, const std::string& command_line) {
  const auto out = dir / "stdout.txt", err = dir / "stderr.txt";
  const auto command = command_line + " >" + out.string() + " 2>" + err.string();
  const int status = std::system(command.c_str());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, read_text(out), read_text(err)};
}

namespace {
int decode_status(int status) { return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status); }
}  // namespace

int spawn(const TempDir& dir, const std::string& program, const std::string& args, const std::string& environment) {
  const auto command = "exec " + (environment.empty() ? "" : "env " + environment + " ") + executable(program) + " " + args +
                       " >>" + (dir / "stdout.txt").string() + " 2>>" + (dir / "stderr.txt").string();
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  return pid;
}

int wait_for(int pid) {
  int status = 0;
  ::waitpid(pid, &status, 0);
  return decode_status(status);
}

std::optional<int> exit_code_if_done(int pid) {
  int status = 0;
  if (::waitpid(pid, &status, WNOHANG) == 0) return std::nullopt;
  return decode_status(status);
}

int free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t size = sizeof address;
  const bool bound = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
                     ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &size) == 0;
  ::close(fd);
  if (!bound) throw std::runtime_error("free_port: no port could be bound on 127.0.0.1");
  return ntohs(address.sin_port);
}

}  // namespace tervit::testing
