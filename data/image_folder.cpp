// image_folder.cpp — walks the class folders, then decodes every image with load_image,
// collecting the files that fail so that one run reports them together.
#include <algorithm>
#include <cctype>
#include <filesystem>
#include <string>
#include <vector>

#include <focalgrad/core/error.h>
#include <focalgrad/data/image.h>
#include <focalgrad/data/image_folder.h>

namespace focalgrad {

namespace {

namespace fs = std::filesystem;

constexpr size_t kReportedFailures = 10;

bool is_image_file(const fs::path& path) {
    std::string ext = path.extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(),
                   [](unsigned char c) { return char(std::tolower(c)); });
    static const char* const kExtensions[] = {".png", ".jpg", ".jpeg", ".bmp", ".gif",
                                              ".tga", ".pgm", ".ppm",  ".pnm"};
    return std::any_of(std::begin(kExtensions), std::end(kExtensions),
                       [&](const char* e) { return ext == e; });
}

bool hidden(const fs::path& path) { return path.filename().string().rfind('.', 0) == 0; }

// The image files below `dir`, sorted by path; hidden files and folders are skipped.
std::vector<std::string> images_below(const fs::path& dir) {
    std::vector<std::string> files;
    std::error_code ec;
    fs::recursive_directory_iterator it(dir, fs::directory_options::follow_directory_symlink, ec), end;
    FG_CHECK(!ec, "load_image_folder: cannot list ", dir.string(), ": ", ec.message());
    for (; it != end; it.increment(ec)) {
        FG_CHECK(!ec, "load_image_folder: cannot list ", dir.string(), ": ", ec.message());
        if (hidden(it->path())) {
            if (it->is_directory(ec)) it.disable_recursion_pending();
            continue;
        }
        // Non-regular files with an image's name (a FIFO, a dangling link) are kept, so
        // that load_image reports them by path instead of their being skipped silently.
        if (!it->is_directory(ec) && is_image_file(it->path())) files.push_back(it->path().string());
        FG_CHECK(files.size() <= size_t(int64_t(1) << 24), "load_image_folder: ", dir.string(),
                 " holds more than 2^24 images");
    }
    std::sort(files.begin(), files.end());
    return files;
}

}  // namespace

TensorDataset load_image_folder(const std::string& root, const ImageFolderOptions& options) {
    const std::string where = "load_image_folder: " + root;
    FG_CHECK(options.channels == 1 || options.channels == 3, where,
             ": channels must be 1 (grey) or 3 (RGB), got ", options.channels);
    FG_CHECK(options.width >= 1 && options.height >= 1 && options.width <= 4096 && options.height <= 4096,
             where, ": the size must be between 1 x 1 and 4096 x 4096, got ", options.width, " x ",
             options.height);
    FG_CHECK(options.max_images >= 1, where, ": max_images must be >= 1, got ", options.max_images);
    std::error_code ec;
    FG_CHECK(fs::exists(root, ec), where, ": no such directory");
    FG_CHECK(fs::is_directory(root, ec), where, ": not a directory (the root holds one folder per class)");

    std::vector<std::string> classes;
    fs::directory_iterator it(root, ec), end;
    FG_CHECK(!ec, where, ": cannot list it: ", ec.message());
    for (; it != end; it.increment(ec)) {
        FG_CHECK(!ec, where, ": cannot list it: ", ec.message());
        if (!hidden(it->path()) && it->is_directory(ec)) classes.push_back(it->path().filename().string());
    }
    std::sort(classes.begin(), classes.end());
    FG_CHECK(!classes.empty(), where,
             ": no class folders in it; put each class's images in a sub-folder named after the class "
             "(root/cat/1.png, root/dog/2.png)");

    TensorDataset data;
    data.name = root;
    data.class_names = classes;
    data.item_shape = options.channels == 1 ? Shape{1, options.height, options.width}
                                            : Shape{3, options.height, options.width};
    std::vector<std::string> files;
    for (size_t c = 0; c < classes.size(); ++c) {
        std::vector<std::string> mine = images_below(fs::path(root) / classes[c]);
        FG_CHECK(!mine.empty(), where, ": the class folder '", classes[c],
                 "' holds no images (.png .jpg .jpeg .bmp .gif .tga .pgm .ppm .pnm)");
        files.insert(files.end(), mine.begin(), mine.end());
        data.labels.insert(data.labels.end(), mine.size(), int(c));
        FG_CHECK(int64_t(files.size()) <= options.max_images, where, ": more than ", options.max_images,
                 " images (ImageFolderOptions::max_images)");
    }

    ImageOptions image;
    image.width = options.width;
    image.height = options.height;
    image.channels = options.channels;
    image.max_pixels = options.max_pixels;
    const int64_t D = data.item_size();
    data.values.resize(files.size() * size_t(D));
    std::vector<std::string> failures;
    size_t failed = 0;
    for (size_t i = 0; i < files.size(); ++i) {
        try {
            Tensor t = load_image(files[i], image);  // [H, W] or [3, H, W], both D values
            std::copy_n(t.data(), D, data.values.data() + i * size_t(D));
        } catch (const Error& e) {
            if (failures.size() < kReportedFailures) failures.push_back(e.what());
            ++failed;
        }
    }
    if (failed > 0) {
        std::string all;
        for (const std::string& f : failures) all += (all.empty() ? "" : "; ") + f;
        if (failed > failures.size()) all += str("; and ", failed - failures.size(), " more");
        throw Error(str(where, ": ", failed, " of ", files.size(), " images cannot be read: ", all));
    }
    return data;
}

}  // namespace focalgrad
