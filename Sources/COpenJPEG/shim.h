// OpenJPEG 2.5 (libopenjp2-7-dev); pkg-config adds -I/usr/include/openjpeg-2.5.
#include <openjpeg.h>
