#!/bin/sh
# make-venv.sh PYTHON VENV REQUIREMENTS — creates the oracle virtual environment once; reruns are no-ops
# while the requirements file is unchanged.
set -eu
python=$1 venv=$2 requirements=$3
stamp="$venv/.lowbit-requirements"
if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && cmp -s "$stamp" "$requirements"; then
    echo "oracle venv up to date: $venv"
    exit 0
fi
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
cp "$requirements" "$stamp"
"$venv/bin/python" -c "import gguf, numpy; print('oracle venv ready: gguf', gguf.__version__ if hasattr(gguf, '__version__') else '', 'numpy', numpy.__version__)"
