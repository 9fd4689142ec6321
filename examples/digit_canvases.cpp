// digit_canvases.cpp — the detection data of the dense-prediction study, on its own: digits on
// a canvas (detection/canvas.h) from MNIST or Fashion-MNIST, how unbalanced a RetinaNet head's
// classification targets are on them (negative anchor x class targets per positive), a
// preview of the first canvases with their boxes, and the set's COCO ground truth.
// Not here: any training (examples/dense_digits does that).
//
//   build/bin/digit_canvases                        # 2,000 MNIST training canvases
//   build/bin/digit_canvases --dataset fashion --clutter 3 --split test
#include <algorithm>
#include <cstdio>
#include <string>

#include <focalgrad/core/io.h>
#include <focalgrad/data/mnist.h>
#include <focalgrad/detection/anchors.h>
#include <focalgrad/detection/canvas.h>
#include <focalgrad/detection/coco.h>
#include <focalgrad/report/chart.h>

#include "cli.h"

using namespace focalgrad;

namespace {

void run(int argc, char** argv) {
    cli::Args args(argc, argv,
                   "Digits on a canvas: generates a seeded set of detection canvases from MNIST (or\n"
                   "Fashion-MNIST), prints how many negative anchor x class targets a RetinaNet head\n"
                   "sees per positive, and writes a preview (SVG) and the COCO ground truth (JSON).");
    const std::string data_dir =
        args.str("data", "", "MNIST directory (default: $MNIST_DIR, then datasets/mnist)");
    const std::string dataset = args.str("dataset", "mnist", "mnist or fashion (Fashion-MNIST)");
    const std::string split =
        args.str("split", "train", "train or test: the digits the canvases are made of");
    CanvasOptions o;
    const int64_t count = args.integer("count", 2000, "canvases to generate", 1, 1000000);
    const int64_t seed = args.integer("seed", 1, "generator seed", 0, int64_t(1) << 62);
    o.size = args.integer("size", o.size, "canvas side in pixels", 28, 1024);
    o.min_scale = args.integer("min-scale", o.min_scale, "smallest item side after resizing", 8, 1024);
    o.max_scale = args.integer("max-scale", o.max_scale, "largest item side after resizing", 8, 1024);
    o.max_objects = int(args.integer("max-objects", o.max_objects, "items per canvas: 1 to this", 1, 20));
    o.clutter =
        int(args.integer("clutter", 0, "fragments of other items per canvas (hard negatives)", 0, 50));
    const int64_t stride = args.integer("stride", 4, "anchor stride in pixels (must divide --size)", 1, 1024);
    const int64_t preview = args.integer("preview", 16, "canvases in the preview grid", 0, 256);
    const std::string out =
        args.str("out", "results/digit_canvases", "directory for preview.svg and truth.json");
    args.finish();
    FG_CHECK(dataset == "mnist" || dataset == "fashion", "--dataset must be mnist or fashion, got '", dataset,
             "'");
    FG_CHECK(split == "train" || split == "test", "--split must be train or test, got '", split, "'");
    FG_CHECK(o.size % stride == 0, "--stride ", stride, " must divide --size ", o.size);
    const Split which = parse_split(split);
    make_directories(out, "digit_canvases: --out");

    Dataset source = dataset == "fashion" ? load_fashion_mnist(find_fashion_mnist_dir(data_dir), which)
                                          : load_mnist(find_mnist_dir(data_dir), which);
    CanvasSet set = make_canvases(source, count, uint64_t(seed), o);
    AnchorGrid grid = canvas_anchor_grid(set, stride);
    std::printf("%s: %lld canvases of %lld x %lld, 1-%d items of %lld-%lld pixels, clutter %d, seed %lld\n",
                set.name.c_str(), (long long)count, (long long)o.size, (long long)o.size, o.max_objects,
                (long long)o.min_scale, (long long)o.max_scale, o.clutter, (long long)seed);
    std::printf("anchors: %lld x %lld cells (stride %lld), sizes %.1f %.1f %.1f, aspect ratios 0.5 1 2\n",
                (long long)grid.height, (long long)grid.width, (long long)stride, double(grid.sizes[0]),
                double(grid.sizes[1]), double(grid.sizes[2]));
    std::printf("%s", format_imbalance(target_imbalance(set, make_anchors(grid))).c_str());

    // A grid of the first canvases with their boxes, four per row.
    const int64_t shown = std::min(preview, count), columns = 4, rows = (shown + columns - 1) / columns;
    if (shown > 0) {
        const double cell = 200;
        report::Svg svg(cell * double(columns), cell * double(rows));
        for (int64_t i = 0; i < shown; ++i)
            report::draw(svg, canvas_plot(set, i), cell * double(i % columns), cell * double(i / columns),
                         cell, cell);
        write_file_atomic(out + "/preview.svg", svg.str(), "digit_canvases");
    }
    write_coco_truth(out + "/truth.json", canvas_coco_truth(set));
    std::printf("wrote %s%s/truth.json\n", shown > 0 ? (out + "/preview.svg, ").c_str() : "", out.c_str());
}

}  // namespace

int main(int argc, char** argv) {
    return cli::run_main("digit_canvases", [&] { run(argc, argv); });
}
