#!/usr/bin/env bash
# Builds and runs a console app that references only the packed Microsoft.ML.NEFTune .nupkg and TorchSharp-cpu (as the
# README tells users to), outside the repository so that none of its build settings apply.
# Usage: eng/package-check/run.sh PACKAGE_DIR FIXTURES_DIR
set -euo pipefail
packages="$(cd "$1" && pwd)"
fixtures="$(cd "$2" && pwd)"
here="$(cd "$(dirname "$0")" && pwd)"
nupkg=$(ls "$packages"/Microsoft.ML.NEFTune.[0-9]*.nupkg | grep -v '\.symbols\.' | head -n 1)
version=$(basename "$nupkg" .nupkg | sed 's/^Microsoft\.ML\.NEFTune\.//')
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
sed "s/@VERSION@/$version/" "$here/PackageCheck.csproj.in" > "$work/PackageCheck.csproj"
cp "$here/Program.cs" "$work/"
cat > "$work/nuget.config" <<CONFIG
<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <packageSources>
    <clear />
    <add key="local" value="$packages" />
    <add key="nuget.org" value="https://api.nuget.org/v3/index.json" />
  </packageSources>
</configuration>
CONFIG
# A package of the same version restored earlier would be taken from the global cache instead of this one.
global=$(dotnet nuget locals global-packages --list | sed 's/^[^:]*: *//')
rm -rf "$global/microsoft.ml.neftune/$version"
dotnet run --project "$work/PackageCheck.csproj" -c Release -- "$fixtures"
