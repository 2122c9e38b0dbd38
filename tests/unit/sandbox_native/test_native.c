#include "tap.h"
TEST(placeholder) { CHECK(1); }
