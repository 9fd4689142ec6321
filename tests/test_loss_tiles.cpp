// test_loss_tiles.cpp — the class-major tile copies of the fast softmax losses
// (losses/internal/softmax_tiles.h): gather_rows and scatter_rows move exactly the values the
// layout's index formula names, for every number of classes around the 8 x 8 blocks of the
// [N, C] case (C = 1 ... 20), whole and partial tiles, and strided [N, C, d] logits.
// Not here: the losses built on them (test_loss_fast_vs_reference.cpp).
#include <cmath>
#include <vector>

#include <focalgrad/losses/internal/softmax_tiles.h>

#include "helpers.h"

using namespace focalgrad;
using internal::kTileRows;

TEST_CASE(
    "gather_rows and scatter_rows copy exactly the tile's rows, for C = 1 ... 20, [N, C] and [N, C, d]") {
    for (int64_t positions : {1, 3})
        for (int64_t C = 1; C <= 20; ++C) {
            ClassLayout layout;
            layout.batch = 150 / positions + 1;
            layout.classes = C;
            layout.positions = positions;
            const int64_t rows = layout.rows(), count = rows * C;
            std::vector<float> logits(static_cast<size_t>(count));
            for (int64_t e = 0; e < count; ++e) logits[size_t(e)] = float(e) + 0.5f;  // every value distinct
            for (int64_t row0 : {int64_t(0), int64_t(8), int64_t(64), rows - 9})
                for (int n : {1, 7, 8, 9, 17, 63, 64}) {
                    if (row0 + n > rows) continue;
                    INFO("C ", C, ", positions ", positions, ", rows ", row0, " + ", n);
                    std::vector<float> tile(size_t(C * kTileRows), NAN);
                    internal::gather_rows(logits.data(), layout, row0, n, tile.data());
                    int wrong = 0;
                    for (int64_t j = 0; j < C; ++j)
                        for (int r = 0; r < kTileRows; ++r) {
                            const float want = r < n ? logits[size_t(layout.index(row0 + r, j))] : 0.0f;
                            wrong += tile[size_t(j * kTileRows + r)] != want;
                        }
                    CHECK(wrong == 0);
                    // Back: the tile's n rows land where they came from; nothing else is written.
                    for (float& v : tile) v = -v;
                    std::vector<float> out(static_cast<size_t>(count), 7.0f);
                    internal::scatter_rows(tile.data(), layout, row0, n, out.data());
                    wrong = 0;
                    for (int64_t i = 0; i < rows; ++i)
                        for (int64_t j = 0; j < C; ++j) {
                            const int64_t e = layout.index(i, j);
                            const bool in_tile = i >= row0 && i < row0 + n;
                            wrong += out[size_t(e)] != (in_tile ? -logits[size_t(e)] : 7.0f);
                        }
                    CHECK(wrong == 0);
                }
        }
}
