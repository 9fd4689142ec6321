// image_folder.h — a folder tree of images, one sub-folder per class, as a TensorDataset
// of items [C, H, W] (torchvision's ImageFolder layout):
//   root/cat/001.png, root/cat/002.jpg, root/dog/a.png, ...  ->  classes "cat", "dog"
// Every image is read with load_image (data/image.h: its format checks, alpha over white,
// box-filter shrinking), as grey or RGB, resized to one size.
// Not here: augmentation, lazy loading (every image is decoded up front), aspect-ratio
// keeping crops (an image is stretched to the size).
#pragma once

#include <cstdint>
#include <string>

#include <focalgrad/data/tensor_dataset.h>

namespace focalgrad {

struct ImageFolderOptions {
    int width = 28, height = 28;  // every image is resized to this
    int channels = 1;             // 1: grey (luma), 3: RGB
    // Refuses a tree of more images, before any is decoded (memory: N C H W floats).
    int64_t max_images = int64_t(1) << 20;
    int64_t max_pixels = int64_t(1) << 25;  // per file, as ImageOptions::max_pixels
};

// Classes are the sub-folders of `root` whose names do not start with '.', sorted by
// name (byte order), class_names their names. A class's images are the files below its
// folder (sub-folders included) whose extension is an image's (.png .jpg .jpeg .bmp .gif
// .tga .pgm .ppm .pnm, any case: a .tga file is reported, as load_image does not read TGA);
// other files and hidden ones are skipped, as are files
// directly in `root`. Items come class by class, each class's files sorted by path.
// Errors: a root that is not a directory, no class folders, a class without images, and
// every image that cannot be read, each reported by its path (up to 10 in one message).
// Values are in [0, 1]: channel_stats (tensor_dataset.h) gives the statistics to
// standardise with, on the training items only.
TensorDataset load_image_folder(const std::string& root, const ImageFolderOptions& options = {});

}  // namespace focalgrad
