#!/usr/bin/env bash
# Build the Debian package with `cargo deb` and check what it installs: the file list, the
# conffile, the maintainer scripts, and `systemd-analyze verify` on every unit as shipped.
# Installs cargo-deb when missing. OFD_DEB_PROFILE picks the cargo profile (default release;
# CI uses dev to save a release build). Run from anywhere; CARGO_TARGET_DIR is honoured.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v cargo-deb >/dev/null 2>&1 || cargo install cargo-deb --version 3.8.0 --locked
command -v systemd-analyze >/dev/null 2>&1 || { echo "systemd-analyze is missing (apt-get install systemd)" >&2; exit 1; }

profile="${OFD_DEB_PROFILE:-release}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cargo deb --profile "$profile" --no-strip --fast --output "$work" >/dev/null
deb=$(ls "$work"/*.deb)
echo "built $(basename "$deb")"

fail() { echo "package check: $*" >&2; exit 1; }

dpkg-deb -c "$deb" | awk '{print $NF}' | sed 's#^\./#/#' > "$work/files"
for path in \
    /usr/bin/ofd \
    /etc/ofd/ofd.toml \
    /lib/systemd/system/ofd-serve.service \
    /lib/systemd/system/ofd-forward.service \
    /lib/systemd/system/ofd-account.service \
    /lib/systemd/system/ofd-project.service \
    /lib/systemd/system/ofd.target \
    /usr/share/doc/ofd/operations.md \
    /usr/share/doc/ofd/copyright \
    /usr/share/doc/ofd/NOTICE; do
    grep -qx "$path" "$work/files" || fail "$path is not in the package"
done
# Nothing outside the paths a package of ours may own.
if grep -v -E '^/(usr/bin|usr/share/doc/ofd|etc/ofd|lib/systemd/system)(/|$)|^/(usr|usr/share|usr/share/doc|etc|lib|lib/systemd)/$' "$work/files" | grep -v '/$' | grep .; then
    fail "unexpected files above"
fi

dpkg-deb -e "$deb" "$work/control"
grep -qx /etc/ofd/ofd.toml "$work/control/conffiles" || fail "/etc/ofd/ofd.toml is not a conffile"
grep -q '^Depends:.*adduser' "$work/control/control" || fail "Depends lacks adduser"
for script in postinst prerm postrm; do
    [ -x "$work/control/$script" ] || fail "maintainer script $script missing"
    sh -n "$work/control/$script" || fail "$script does not parse"
done
grep -q 'adduser --system' "$work/control/postinst" || fail "postinst does not create the user"
grep -q '/var/lib/ofd' "$work/control/postinst" || fail "postinst does not create /var/lib/ofd"

dpkg-deb -x "$deb" "$work/root"
"$work/root/usr/bin/ofd" --version >/dev/null || fail "the packaged binary does not run"
"$work/root/usr/bin/ofd" --help | grep -q 'docs/operations.md' || fail "ofd --help does not name the guide"

# systemd-analyze checks that ExecStart names an executable: point it at the packaged binary.
mkdir "$work/units"
cp "$work/root/lib/systemd/system/"* "$work/units/"
sed -i "s#/usr/bin/ofd#$work/root/usr/bin/ofd#" "$work/units/"*.service
for unit in "$work/units/"*; do
    grep -q '^ExecStart=' "$unit" || [ "${unit##*.}" = target ] || fail "$(basename "$unit") has no ExecStart"
done
for unit in "$work/units/"*.service; do
    for setting in ProtectSystem=strict ReadWritePaths=/var/lib/ofd NoNewPrivileges=yes \
        KillSignal=SIGTERM User=ofd 'CapabilityBoundingSet=$'; do
        grep -q "^$setting" "$unit" || fail "$(basename "$unit") lacks $setting"
    done
done
grep -q '^LimitNOFILE=262144' "$work/units/ofd-serve.service" || fail "ofd-serve LimitNOFILE"
systemd-analyze verify "$work/units/"* 2>&1 | tee "$work/verify"
[ ! -s "$work/verify" ] || fail "systemd-analyze verify reported the lines above"
echo "package check passed: $(wc -l < "$work/files") paths, units verified"
