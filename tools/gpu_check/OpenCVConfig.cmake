# Only the three OpenCV modules tervit links, from the staged Debian files: Debian's own config lists every
# module and fails when one is missing.
get_filename_component(_root "${CMAKE_CURRENT_LIST_DIR}/root/usr" ABSOLUTE)
set(OpenCV_INCLUDE_DIRS "${_root}/include/opencv4" "${_root}/include/x86_64-linux-gnu/opencv4")
set(OpenCV_LIBS)
foreach(m core imgproc imgcodecs)
  add_library(opencv_${m} SHARED IMPORTED)
  set_target_properties(opencv_${m} PROPERTIES IMPORTED_LOCATION "${_root}/lib/x86_64-linux-gnu/libopencv_${m}.so.406"
    INTERFACE_INCLUDE_DIRECTORIES "${OpenCV_INCLUDE_DIRS}")
  list(APPEND OpenCV_LIBS opencv_${m})
endforeach()
set(OpenCV_FOUND TRUE)
set(OpenCV_VERSION 4.6.0)
