#!/bin/sh
# OneTrip @VERSION@: install the wheels beside this script into a fresh environment PREFIX/venvs/@RELEASE@,
# with no network (pip --no-index, this folder's wheels only), beside the environment that is running; then
# point PREFIX/venv at it and keep the one it replaces as PREFIX/venv.previous. Older environments are removed.
#
#   install.sh [--prefix DIR] [--python PYTHON] [--stage-only | --switch-only]
#
# --stage-only builds the environment and switches nothing (the node keeps running); --switch-only switches to
# an environment staged before. PREFIX defaults to /opt/onetrip, PYTHON to python@PYTHON@.
set -eu

version=@VERSION@
release=@RELEASE@
here=$(cd "$(dirname "$0")" && pwd)
prefix=/opt/onetrip
python=python@PYTHON@
stage=yes
switch=yes

fail() {
    echo "OneTrip 安装失败：$*" >&2
    exit 1
}

while [ $# -gt 0 ]; do
    case "$1" in
        --prefix) prefix=${2:?}; shift 2 ;;
        --python) python=${2:?}; shift 2 ;;
        --stage-only) switch=no; shift ;;
        --switch-only) stage=no; shift ;;
        *) fail "不认识的参数 $1（可用：--prefix 目录、--python 解释器、--stage-only、--switch-only）" ;;
    esac
done

# Only this release's wheels, whatever pip is told elsewhere on this PC (a mirror, extra find-links).
for name in $(env | sed -n 's/^\(PIP_[A-Z0-9_]*\)=.*/\1/p'); do unset "$name"; done
export PIP_CONFIG_FILE=/dev/null PIP_NO_INDEX=1 PIP_DISABLE_PIP_VERSION_CHECK=1

env_dir="$prefix/venvs/$release"

if [ "$stage" = yes ]; then
    "$python" -c 'import sys; sys.exit(sys.version_info[:2] != tuple(map(int, "@PYTHON@".split("."))))' 2>/dev/null ||
        fail "需要 Python @PYTHON@（找不到或版本不对：$python）；这一版的程序包只适用于它，见 docs/operations.md"
    (cd "$here" && sha256sum --check --quiet SHA256SUMS) || fail "安装包中的文件已损坏（校验和不符），请重新拷贝"
    if [ ! -f "$env_dir/.installed" ]; then
        rm -rf "$env_dir"
        mkdir -p "$prefix/venvs"
        "$python" -m venv "$env_dir" || fail "无法创建 Python 环境（Debian、Ubuntu 上需装 python@PYTHON@-venv）"
        "$env_dir/bin/python" -m pip install --quiet --no-index --no-cache-dir --find-links "$here/wheels" \
            "onetrip==$version" || fail "从安装包安装 OneTrip $version 没有成功"
        "$env_dir/bin/onetrip" --help >/dev/null || fail "新环境中的 onetrip 无法启动"
        touch "$env_dir/.installed"
    fi
    echo "OneTrip $version 已装入新环境 $env_dir"
fi

if [ "$switch" = yes ]; then
    [ -f "$env_dir/.installed" ] || fail "版本 $release 尚未装好，先不带 --switch-only 运行"
    current=$(readlink "$prefix/venv" 2>/dev/null || true)
    if [ "$current" != "venvs/$release" ]; then
        [ -z "$current" ] || ln -sfn "$current" "$prefix/venv.previous"
        ln -sfn "venvs/$release" "$prefix/venv.new"
        mv -T "$prefix/venv.new" "$prefix/venv"  # a rename: the link is never missing
        current="venvs/$release"
    fi
    previous=$(readlink "$prefix/venv.previous" 2>/dev/null || true)
    for old in "$prefix"/venvs/*; do
        case "venvs/${old##*/}" in
            "$current" | "$previous") ;;
            *) rm -rf "$old" ;;
        esac
    done
    echo "OneTrip $version 已启用：$prefix/venv -> $current"
fi
