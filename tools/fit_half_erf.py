"""Fits the GELU kernels' Φ: H(a) = erf(a / √2) / 2 on [0, 6] as 8 pieces 0.75 wide, each a polynomial of
degree 6 in t = a - (its start), by least squares at Chebyshev nodes; prints the C++ table of
src/kernels/float_kernels.h (row i: the coefficients of t^(6 - i), one per piece) and the largest error of
the table evaluated as the kernels do (float32 Horner with FMA) against math.erf.

    .venv/bin/python tools/fit_half_erf.py      (numpy: bash tools/python_env.sh installs it)
"""
import math

import numpy as np
from numpy.polynomial import chebyshev, polynomial

PIECES, WIDTH, DEGREE = 8, 0.75, 6


def half_erf(a):
    return 0.5 * np.array([math.erf(v / math.sqrt(2.0)) for v in np.atleast_1d(a)])


def fit_piece(start):
    nodes = np.cos(np.pi * (np.arange(400) + 0.5) / 400)  # on [-1, 1]
    in_u = chebyshev.cheb2poly(chebyshev.chebfit(nodes, half_erf(start + (nodes + 1) * WIDTH / 2), DEGREE))
    in_t = np.zeros(1)
    for power, c in enumerate(in_u):  # u = 2t / WIDTH - 1
        in_t = polynomial.polyadd(in_t, c * polynomial.polypow([-1.0, 2.0 / WIDTH], power))
    return np.float32(in_t)


def evaluate(coefficients, a):
    a = np.float32(min(a, PIECES * WIDTH))
    piece = int(min(math.floor(np.float32(a * np.float32(1 / WIDTH))), PIECES - 1))
    t = np.float32(a - np.float32(piece) * np.float32(WIDTH))
    p = np.float64(coefficients[piece][DEGREE])
    for power in range(DEGREE - 1, -1, -1):
        p = np.float64(np.float32(p * t + coefficients[piece][power]))  # one rounding, as an FMA
    return p


def main():
    coefficients = [fit_piece(k * WIDTH) for k in range(PIECES)]
    grid = np.linspace(0, 8, 40001)
    error = max(abs(evaluate(coefficients, a) - half_erf(a)[0]) for a in grid)
    print(f"// largest |error| on [0, 8]: {error:.2e}")
    rows = []
    for power in range(DEGREE, -1, -1):
        values = [f"{c[power]:.9e}f" for c in coefficients]
        half = PIECES // 2
        rows.append("      {" + ", ".join(values[:half]) + ",\n       " + ", ".join(values[half:]) + "}")
    print(",\n".join(rows) + "};")


if __name__ == "__main__":
    main()
