#pragma once
// Seeded randomness of the data pipeline. Every random decision (crop, flip, jitter, erasing, mixup, the
// replacement of a bad file) draws from an Rng seeded from a tuple such as (seed, epoch, batch, slot), so
// results depend neither on the number of threads nor on timing. The draws are written out here rather
// than taken from std::*_distribution, whose outputs differ between standard libraries.
#include <cstdint>
#include <initializer_list>
#include <random>

namespace tervit::data {

using Rng = std::mt19937_64;

// One well-mixed 64-bit seed from several values (SplitMix64 steps chained), so that neighbouring
// tuples such as (seed, epoch, 3) and (seed, epoch, 4) give unrelated streams.
uint64_t mix_seed(std::initializer_list<uint64_t> parts);

// Uniform in [low, high).
double uniform(Rng& rng, double low, double high);

// Uniform integer in [low, high], both ends included (Python's random.randint); requires low <= high.
int64_t uniform_int(Rng& rng, int64_t low, int64_t high);

// True with probability p.
bool bernoulli(Rng& rng, double p);

// Standard normal (Box-Muller).
double normal(Rng& rng);

// Beta(a, b) through two Gamma draws (Marsaglia-Tsang), as numpy.random.beta; a, b > 0.
double beta(Rng& rng, double a, double b);

}  // namespace tervit::data
