"""Reference reader for the MATLAB/Octave suite: write a .npy array as text, one row per line.

Usage: python npy_to_text.py IN.npy OUT.txt

A (frames, hidden) array is written as is; (layers, frames, hidden) as (layers * frames, hidden),
layer by layer. Nine significant digits make every float32 value round-trip exactly.
"""

import sys

import numpy as np

if __name__ == "__main__":
    array = np.load(sys.argv[1])
    np.savetxt(sys.argv[2], array.reshape(-1, array.shape[-1]), fmt="%.9g")
