#!/usr/bin/python3
"""Write the PIL/torchvision reference images that tests/test_resize.cpp and tests/test_image_decode.cpp
compare against.

Run with the system python (Debian: apt-get install python3-torchvision python3-pil python3-skimage):
    /usr/bin/python3 tools/make_pil_resize_fixture.py

Resize fixtures (tests/fixtures/pil_resize/): small crops of photos shipped with scikit-image, resized by
torchvision's Resize(..., antialias=True) on PIL images (which is PIL's Image.resize), plus one full
timm-style eval pipeline (Resize(256) + CenterCrop(224)) saved as the uint8 crop before ToTensor/Normalize.
Crops keep the committed files small while still covering downscaling (antialiasing), upscaling and
non-square images.

Decode fixtures (tests/fixtures/images/): image kinds OpenCV cannot write (CMYK JPEG, palette PNG,
gray+alpha PNG), with the RGB values PIL's convert('RGB') gives for them.
"""
import json
import os

import skimage
import torchvision
from PIL import Image
from torchvision import transforms
from torchvision.transforms import InterpolationMode

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RESIZE_DIR = os.path.join(REPO, "tests", "fixtures", "pil_resize")
IMAGES_DIR = os.path.join(REPO, "tests", "fixtures", "images")
SKIMAGE_DATA = os.path.join(os.path.dirname(skimage.__file__), "data")

# name -> (source file, crop box (left, top, right, bottom))
INPUTS = {
    "astronaut": ("astronaut.png", (160, 40, 288, 168)),  # 128x128, face and helmet
    "coffee": ("coffee.png", (200, 100, 440, 260)),  # 240x160, non-square
    "chelsea": ("chelsea.png", (170, 60, 260, 120)),  # 90x60, for upscaling
}

# (input, interpolation, Resize size argument: int = shorter side, [h, w] = exact)
CASES = [
    ("astronaut", "bicubic", 56),  # 128 -> 56 is the 512 -> 224 ratio
    ("astronaut", "bilinear", 56),
    ("astronaut", "nearest", 56),
    ("coffee", "bicubic", 64),  # 240x160 -> 96x64
    ("coffee", "bilinear", [50, 101]),  # different ratios per axis
    ("chelsea", "bicubic", 100),  # upscale 90x60 -> 150x100
    ("chelsea", "bilinear", 100),
]

MODES = {
    "nearest": InterpolationMode.NEAREST,
    "bilinear": InterpolationMode.BILINEAR,
    "bicubic": InterpolationMode.BICUBIC,
}


def write_resize_fixtures():
    os.makedirs(RESIZE_DIR, exist_ok=True)
    images = {}
    for name, (source, box) in INPUTS.items():
        image = Image.open(os.path.join(SKIMAGE_DATA, source)).convert("RGB").crop(box)
        image.info.pop("icc_profile", None)  # libpng warns about the photos' sRGB profile on every read
        image.save(os.path.join(RESIZE_DIR, f"{name}.png"), optimize=True)
        images[name] = image

    cases = []
    for name, interpolation, size in CASES:
        resize = transforms.Resize(size, interpolation=MODES[interpolation], antialias=True)
        out = resize(images[name])
        out_name = f"{name}_{interpolation}_{out.width}x{out.height}.png"
        out.save(os.path.join(RESIZE_DIR, out_name), optimize=True)
        cases.append({"input": f"{name}.png", "output": out_name, "interpolation": interpolation,
                      "width": out.width, "height": out.height})

    # timm transforms_imagenet_eval(224, crop_pct=0.875, bicubic) without ToTensor/Normalize, which the
    # test applies itself in float32 exactly as torchvision does.
    eval_pipeline = transforms.Compose([
        transforms.Resize(256, interpolation=InterpolationMode.BICUBIC),
        transforms.CenterCrop(224),
    ])
    eval_name = "coffee_eval_crop_224.png"
    eval_pipeline(images["coffee"]).save(os.path.join(RESIZE_DIR, eval_name), optimize=True)

    manifest = {
        "generator": "tools/make_pil_resize_fixture.py",
        "pillow": Image.__version__,
        "torchvision": torchvision.__version__,
        "resize": cases,
        "eval": {"input": "coffee.png", "output_crop": eval_name, "img_size": 224, "crop_pct": 0.875,
                 "interpolation": "bicubic"},
    }
    with open(os.path.join(RESIZE_DIR, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
        f.write("\n")


def write_decode_fixtures():
    os.makedirs(IMAGES_DIR, exist_ok=True)
    # Solid colours keep JPEG exact enough to assert values; the second half has black (K) ink, whose
    # conversion is where CMYK decoders differ.
    cmyk = Image.new("CMYK", (16, 16), (0, 255, 255, 0))  # red
    cmyk.paste((0, 0, 0, 128), (8, 0, 16, 16))  # mid grey
    cmyk.save(os.path.join(IMAGES_DIR, "cmyk.jpg"), "JPEG", quality=100)

    palette = Image.new("P", (4, 1))
    palette.putpalette([255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30])
    palette.putdata([0, 1, 2, 3])
    palette.save(os.path.join(IMAGES_DIR, "palette.png"))

    gray_alpha = Image.new("LA", (2, 1))
    gray_alpha.putdata([(40, 255), (200, 0)])
    gray_alpha.save(os.path.join(IMAGES_DIR, "gray_alpha.png"))

    for name in ("cmyk.jpg", "palette.png", "gray_alpha.png"):
        rgb = Image.open(os.path.join(IMAGES_DIR, name)).convert("RGB")
        print(name, [rgb.getpixel((x, 0)) for x in range(0, rgb.width, max(1, rgb.width // 4))])


if __name__ == "__main__":
    write_resize_fixtures()
    write_decode_fixtures()
