#!/bin/bash
# Lifeboat's deb after-remove script: electron-builder's template (after-remove.tpl, 26.x), with
# /usr/bin/lifeboat being the CLI wrapper link that after-install.sh made.

if [ -L '/usr/bin/lifeboat' ] && [ "$(readlink '/usr/bin/lifeboat')" = '/opt/${sanitizedProductName}/resources/bin/lifeboat' ]; then
    rm -f '/usr/bin/lifeboat'
fi

APPARMOR_PROFILE_DEST='/etc/apparmor.d/${executable}'

# Remove and unload apparmor profile.
if [ -f "$APPARMOR_PROFILE_DEST" ]; then
  # Unload the profile from the running kernel before deleting the file so the
  # policy is not left enforced until the next reboot.  Mirror the chroot guard
  # used in the after-install script — live AppArmor operations are not
  # meaningful inside a chroot.
  # https://wiki.debian.org/AppArmor/HowToUse
  if apparmor_status --enabled > /dev/null 2>&1; then
    if ! { [ -x '/usr/bin/ischroot' ] && /usr/bin/ischroot; } && hash apparmor_parser 2>/dev/null; then
      apparmor_parser --remove "$APPARMOR_PROFILE_DEST" || true
    fi
  fi
  rm -f "$APPARMOR_PROFILE_DEST"
fi