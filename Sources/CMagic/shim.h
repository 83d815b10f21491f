// libmagic (file(1)'s library, Debian's libmagic-dev): MIME types from the bytes of a file.
#include <magic.h>
