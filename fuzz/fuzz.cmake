# libFuzzer targets, one per parser of outside input (tools/fuzz.sh builds and runs them). Included by
# CMakeLists.txt when TERVIT_FUZZ is on, instead of the library, CLIs and tests.
if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  message(FATAL_ERROR "TERVIT_FUZZ needs clang for libFuzzer: configure with -DCMAKE_CXX_COMPILER=clang++")
endif()

# Only the parsers and what they call are compiled: core, libtorch, kernels, image, quant, deploy and models (the packed-model
# reader builds the model its metadata describes, and checks its preprocessing), the image decoders and the
# trainer-state reader.
# Leaving out the loaders and the trainer halves the (slow) clang build.
tervit_sources(TERVIT_PARSER_SOURCES src/core src/libtorch src/kernels src/image src/quant src/deploy models)
list(APPEND TERVIT_PARSER_SOURCES
  ${PROJECT_SOURCE_DIR}/src/data/image_decode.cpp
  ${PROJECT_SOURCE_DIR}/src/data/encoded_image.cpp
  ${PROJECT_SOURCE_DIR}/src/data/image_folder.cpp
  ${PROJECT_SOURCE_DIR}/src/engine/trainer_state.cpp)

# Every sanitizer finding must stop the run, so that libFuzzer records the input. The targets compile
# with the library's flags (coverage instrumentation included) so that they share its precompiled header;
# only their link adds libFuzzer's main.
set(TERVIT_FUZZ_SANITIZERS -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -g1)
add_library(tervit_parsers STATIC ${TERVIT_PARSER_SOURCES})
target_include_directories(tervit_parsers PUBLIC ${PROJECT_SOURCE_DIR}/include ${PROJECT_SOURCE_DIR})
target_link_libraries(tervit_parsers PUBLIC ${TORCH_LIBRARIES} ${OpenCV_LIBS} yaml-cpp spdlog::spdlog
  CLI11::CLI11 nlohmann_json::nlohmann_json ZLIB::ZLIB JPEG::JPEG PNG::PNG)
target_compile_options(tervit_parsers PUBLIC ${TORCH_CXX_FLAGS} ${TERVIT_FUZZ_SANITIZERS})
target_link_options(tervit_parsers PUBLIC ${TERVIT_FUZZ_SANITIZERS})
target_precompile_headers(tervit_parsers PRIVATE <torch/torch.h>)

file(GLOB TERVIT_FUZZ_TARGETS CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/fuzz/fuzz_*.cpp)
add_custom_target(fuzz_targets)
foreach(src ${TERVIT_FUZZ_TARGETS})
  get_filename_component(target ${src} NAME_WE)
  add_executable(${target} ${src})
  target_link_libraries(${target} PRIVATE tervit_parsers)
  target_precompile_headers(${target} REUSE_FROM tervit_parsers)
  target_link_options(${target} PRIVATE -fsanitize=fuzzer)
  add_dependencies(fuzz_targets ${target})
endforeach()
