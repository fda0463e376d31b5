#include "tervit/data/random.h"

#include <cmath>

namespace tervit::data {
namespace {

uint64_t splitmix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

// Uniform in [0, 1) with 53 random bits.
double canonical(Rng& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

double gamma(Rng& rng, double shape) {
  if (shape < 1.0) {  // Gamma(a) = Gamma(a + 1) * U^(1/a)
    const double u = 1.0 - canonical(rng);
    return gamma(rng, shape + 1.0) * std::pow(u, 1.0 / shape);
  }
  const double d = shape - 1.0 / 3.0;
  const double c = 1.0 / std::sqrt(9.0 * d);
  while (true) {
    double x = 0.0;
    double v = 0.0;
    do {
      x = normal(rng);
      v = 1.0 + c * x;
    } while (v <= 0.0);
    v = v * v * v;
    const double u = 1.0 - canonical(rng);
    if (std::log(u) < 0.5 * x * x + d - d * v + d * std::log(v)) return d * v;
  }
}

}  // namespace

uint64_t mix_seed(std::initializer_list<uint64_t> parts) {
  uint64_t state = 0x2545F4914F6CDD1DULL;
  for (const uint64_t part : parts) state = splitmix64(state ^ splitmix64(part));
  return state;
}

double uniform(Rng& rng, double low, double high) { return low + (high - low) * canonical(rng); }

int64_t uniform_int(Rng& rng, int64_t low, int64_t high) {
  const auto range = static_cast<unsigned __int128>(static_cast<uint64_t>(high - low) + 1);
  // Lemire's multiply-shift: unbiased enough (bias < range / 2^64) and branch free.
  return low + static_cast<int64_t>((static_cast<unsigned __int128>(rng()) * range) >> 64);
}

bool bernoulli(Rng& rng, double p) { return canonical(rng) < p; }

double normal(Rng& rng) {
  const double u1 = 1.0 - canonical(rng);  // (0, 1]: log stays finite
  const double u2 = canonical(rng);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
}

double beta(Rng& rng, double a, double b) {
  const double x = gamma(rng, a);
  const double y = gamma(rng, b);
  return x / (x + y);
}

}  // namespace tervit::data
