# Sourced by the fetch-* scripts: a private apt state for fetching (never
# installing) packages of another suite or architecture, with the mirror taken
# from the machine's own Debian entry.  The machine's apt configuration, lists
# and dpkg database are untouched.
#
# usage: apt_private NAME SUITE ARCH [src]; then apt-get "${aptopts[@]}"
# update|download (with src also source --download-only: source packages)
# (state in $cache/NAME; needs $cache and a die function)
apt_private() {
	local name=$1 suite=$2 arch=$3 src=${4:-} mirror="" keyring apt_dir
	if ls /etc/apt/sources.list.d/*.sources >/dev/null 2>&1; then
		mirror=$(awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i !~ /security/) { print $i; exit } }' \
			/etc/apt/sources.list.d/*.sources)
	fi
	if [ -z "$mirror" ] && [ -f /etc/apt/sources.list ]; then
		mirror=$(awk '$1 == "deb" && $0 !~ /security/ { for (i = 2; i <= NF; i++) if ($i ~ /:\/\//) { print $i; exit } }' \
			/etc/apt/sources.list)
	fi
	[ -n "$mirror" ] || die "no Debian mirror found in /etc/apt/sources.list{,.d}"
	keyring=/usr/share/keyrings/debian-archive-keyring.gpg
	[ -f "$keyring" ] || die "$keyring missing (package debian-archive-keyring)"

	apt_dir="$cache/$name"
	mkdir -p "$apt_dir/lists/partial" "$apt_dir/archives/partial" "$apt_dir/etc/sources.list.d" \
		"$apt_dir/etc/preferences.d" "$apt_dir/cache"
	echo "deb [signed-by=$keyring] $mirror $suite main" > "$apt_dir/etc/sources.list"
	[ -z "$src" ] || echo "deb-src [signed-by=$keyring] $mirror $suite main" >> "$apt_dir/etc/sources.list"
	aptopts=(
		-o Dir::Etc::SourceList="$apt_dir/etc/sources.list"
		-o Dir::Etc::SourceParts="$apt_dir/etc/sources.list.d"
		-o Dir::Etc::Preferences="$apt_dir/etc/preferences"
		-o Dir::Etc::PreferencesParts="$apt_dir/etc/preferences.d"
		-o Dir::State::Lists="$apt_dir/lists"
		-o Dir::Cache="$apt_dir/cache"
		-o Dir::State::status=/dev/null
		-o APT::Architecture="$arch"
		-o APT::Architectures::="$arch"
		-o Debug::NoLocking=1
		-o APT::Sandbox::User=root
	)
}
