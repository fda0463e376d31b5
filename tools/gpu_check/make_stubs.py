#!/usr/bin/env python3
"""Stub shared libraries for the dependencies of Debian's OpenCV that a GPU machine lacks and tervit never
calls (GDAL, GDCM, OpenEXR, TIFF, OpenJPEG, LAPACK, BLAS, GLX): their closure is hundreds of MB, more
than can be carried. Each stub defines exactly the (versioned) symbols that OpenCV's core, imgproc and
imgcodecs import from it (they are linked with BIND_NOW, so all must resolve at load). A call aborts,
naming the symbol; constructors, destructors and GDALAllRegister, which run at load, do nothing.
  tools/gpu_check/make_stubs.py OUT_DIR"""
import os, re, subprocess, sys
LIB = "/lib/x86_64-linux-gnu"
out = sys.argv[1]
os.makedirs(out, exist_ok=True)
users = [f"{LIB}/libopencv_{m}.so.406" for m in ("core", "imgproc", "imgcodecs")]
stubbed = ["libGLX.so.0", "liblapack.so.3", "libblas.so.3", "libgdcmMSFF.so.3.0", "libtiff.so.6", "libopenjp2.so.7",
           "libOpenEXR-3_1.so.30", "libgdal.so.32", "libgdcmDSED.so.3.0"]

def dynsyms(path):
    """(name, version, defined, type, size) of each dynamic symbol."""
    rows = []
    text = subprocess.run(["readelf", "-W", "--dyn-syms", path], capture_output=True, text=True, check=True).stdout
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 8 or not parts[0].rstrip(":").isdigit(): continue
        size, typ, ndx, name = int(parts[2], 0), parts[3], parts[6], parts[7]
        ver = None
        if "@" in name:
            name, _, ver = name.partition("@"); ver = ver.lstrip("@")
            ver = re.sub(r"\s*\(\d+\)$", "", ver)
        rows.append((name, ver, ndx != "UND", typ, size))
    return rows

def needed(path):
    text = subprocess.run(["readelf", "-d", path], capture_output=True, text=True, check=True).stdout
    return re.findall(r"Shared library: \[(.+?)\]", text)

def closure(lib):
    seen, todo = [], [lib]
    while todo:
        l = todo.pop()
        if l in seen: continue
        seen.append(l)
        p = f"{LIB}/{l}"
        if os.path.exists(p): todo += needed(p)
    return seen

imports = {}
for u in users:
    for name, ver, defined, typ, size in dynsyms(u):
        if not defined: imports[(name, ver)] = None

for lib in stubbed:
    defs = {}
    for dep in closure(lib):
        if dep.startswith(("libc.so", "libm.so", "libstdc++", "libgcc_s", "ld-linux")): continue
        p = f"{LIB}/{dep}"
        if not os.path.exists(p): continue
        for name, ver, defined, typ, size in dynsyms(p):
            if defined and (name, ver) in imports and imports[(name, ver)] is None and (dep == lib or ver is None):
                defs[(name, ver)] = (typ, size)
    for key in defs: imports[key] = lib
    versions = {}
    asm = [".section .note.GNU-stack,\"\",@progbits", ".text", "stub_called:", f"  lea msg(%rip), %rdi", "  jmp tervit_stub_abort@PLT",
           ".section .rodata", f'msg: .asciz "{lib}"']
    for (name, ver), (typ, size) in sorted(defs.items(), key=lambda kv: kv[0][0]):
        versions.setdefault(ver, []).append(name)
        if (typ == "FUNC" or typ == "IFUNC") and (re.search(r"[CD][12]E", name) or name in ("GDALAllRegister",)):
            # Constructors and destructors of OpenCV's static objects run at load: let them do nothing.
            asm += [".text", f".globl {name}", f".type {name},@function", f"{name}: ret"]
        elif typ == "FUNC" or typ == "IFUNC":
            label = f"name_{len(asm)}"
            asm += [".section .rodata", f'{label}: .asciz "{name}"', ".text", f".globl {name}", f".type {name},@function",
                    f"{name}: lea {label}(%rip), %rsi", "  jmp stub_called"]
        else:
            asm += [".data", f".globl {name}", f".type {name},@object", f".size {name},{max(size,1)}", f"{name}: .zero {max(size,1)}"]
    base = os.path.join(out, lib)
    with open(base + ".S", "w") as f: f.write("\n".join(asm) + "\n")
    with open(base + ".c", "w") as f:
        f.write('#include <stdio.h>\n#include <stdlib.h>\n'
                'void tervit_stub_abort(const char* lib, const char* symbol) {\n'
                '  fprintf(stderr, "device stub of %s called (%s): no such library is carried\\n", lib, symbol);\n'
                '  abort();\n}\n')
    script = []
    named = [v for v in versions if v]
    for v in named: script.append(f"{v} {{ global: {'; '.join(versions[v])}; }};")
    if None in versions: script.append(f"{{ global: {'; '.join(versions[None])}; }};" if not named else "")
    with open(base + ".map", "w") as f: f.write("\n".join(s for s in script if s) + "\n")
    cmd = ["gcc", "-shared", "-fPIC", "-o", base, f"-Wl,-soname,{lib}", base + ".S", base + ".c"]
    if named: cmd.append(f"-Wl,--version-script={base}.map")
    subprocess.run(cmd, check=True)
    for ext in (".S", ".c", ".map"): os.remove(base + ext)
    print(f"{lib}: {len(defs)} symbols, versions {sorted(v for v in versions if v)}")
