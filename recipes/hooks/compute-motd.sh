#!/bin/sh
# Runs inside the image root during the build (as root, no network daemons).
set -eu
cat > /etc/motd <<'MOTD'
This node runs the pxeforge "compute" image. Local changes are lost at reboot:
change the recipe in git instead.
MOTD
