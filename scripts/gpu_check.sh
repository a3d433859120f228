#!/usr/bin/env bash
# GPU checks, for the day a GPU is at hand (vrag-env issue #13). Runs in under 5 minutes on one GPU,
# prints one line per check and writes a JSON summary.
#
#   bash scripts/gpu_check.sh [OUT_DIR]      (default OUT_DIR: runs/gpu_check)
#
# Checks:
#   vllm_generation  a tiny Qwen2.5-VL served by `vllm serve` on 127.0.0.1, driven by the `vlm`
#                    agent's OpenAI-compatible path (`vrag eval --agent vlm --base-url ...`)
#   grpo_vllm_step   one GRPO step of agents/trl_grpo.py with --use_vllm true --vllm_mode colocate
#                    (environment_factory, tools that return images)
#   faiss_gpu        faiss-gpu inner-product search over page token vectors == the CPU index's
#   env_steps        python -m benchmarks.env_perf --quick on this machine (steps/s)
#
# Without a GPU (no nvidia-smi, or it lists none) every check is "skip" and the script exits 0, so
# CI can call it anywhere. A check whose package is missing (vllm, faiss-gpu) is "skip" too, with
# the install hint. Exit status: 1 when any check failed, else 0.
set -uo pipefail

OUT_DIR="${1:-runs/gpu_check}"
mkdir -p "$OUT_DIR"
SUMMARY="$OUT_DIR/gpu_check.json"
CHECK_TIMEOUT="${GPU_CHECK_TIMEOUT:-240}"
PY="${GPU_CHECK_PYTHON:-uv run python}"
export OUT_DIR PY
declare -a NAMES=() STATUSES=() SECONDS_USED=() DETAILS=()

record() { # name status seconds detail
    NAMES+=("$1"); STATUSES+=("$2"); SECONDS_USED+=("$3"); DETAILS+=("$4")
    printf '%-16s %-5s %6ss  %s\n' "$1" "$2" "$3" "$4"
}

write_summary() {
    local gpu="$1"
    {
        printf '{\n  "gpu": %s,\n  "checks": [\n' "$(json_str "$gpu")"
        local i last=$((${#NAMES[@]} - 1))
        for i in "${!NAMES[@]}"; do
            printf '    {"name": %s, "status": %s, "seconds": %s, "detail": %s}' \
                "$(json_str "${NAMES[$i]}")" "$(json_str "${STATUSES[$i]}")" \
                "${SECONDS_USED[$i]}" "$(json_str "${DETAILS[$i]}")"
            [[ $i -lt $last ]] && printf ','
            printf '\n'
        done
        printf '  ]\n}\n'
    } >"$SUMMARY"
    echo "summary: $SUMMARY"
}

json_str() { python3 -c 'import json, sys; print(json.dumps(sys.argv[1]))' "$1"; }

run_check() { # name; runs check_<name> in a child bash (77: skip), detail from its last line
    local name="$1"
    local log="$OUT_DIR/$name.log" start end rc detail status
    start=$(date +%s)
    timeout "$CHECK_TIMEOUT" bash -c "check_$name" >"$log" 2>&1
    rc=$?
    end=$(date +%s)
    detail=$(tail -n 1 "$log" | cut -c1-300)
    case $rc in
        0) status=pass ;;
        77) status=skip ;;
        124) status=fail; detail="timed out after ${CHECK_TIMEOUT}s (see $log)" ;;
        *) status=fail; detail="exit $rc: $detail (see $log)" ;;
    esac
    record "$name" "$status" "$((end - start))" "$detail"
}

ALL_CHECKS=(vllm_generation grpo_vllm_step faiss_gpu env_steps)

if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L 2>/dev/null | grep -q '^GPU'; then
    for name in "${ALL_CHECKS[@]}"; do record "$name" skip 0 "no GPU on this machine"; done
    write_summary "none"
    exit 0
fi
GPU_NAME=$(nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | head -n 1)
echo "GPU: $GPU_NAME"

# -- vLLM generation through the vlm agent ------------------------------------------------------
check_vllm_generation() {
    $PY -c 'import vllm' 2>/dev/null || { echo "vllm not installed: uv pip install vllm"; return 77; }
    local model="$OUT_DIR/tiny-qwen2.5-vl" port log pid rc=0
    $PY -c "from vrag_env.testing.tiny_models.qwen_vl import build_tiny_vlm; \
build_tiny_vlm('$model', arch='qwen2_5_vl', overwrite=True)" || return 1
    port=$($PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    log="$OUT_DIR/vllm_serve.log"
    $PY -m vllm.entrypoints.openai.api_server --model "$model" --host 127.0.0.1 \
        --port "$port" --gpu-memory-utilization 0.2 --max-model-len 4096 --enforce-eager \
        >"$log" 2>&1 &
    pid=$!
    for _ in $(seq 1 120); do
        curl -sf "http://127.0.0.1:$port/v1/models" >/dev/null 2>&1 && break
        kill -0 "$pid" 2>/dev/null || { echo "vllm serve exited (see $log)"; return 1; }
        sleep 1
    done
    $PY -m vrag_env.cli eval --agent vlm --model "$model" \
        --base-url "http://127.0.0.1:$port/v1" --env-id VRAG-Tiny-v0 --episodes 3 --quiet \
        --out "$OUT_DIR/vlm_vllm.json" || rc=1
    kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
    [[ $rc -eq 0 ]] && $PY -c "import json; r = json.load(open('$OUT_DIR/vlm_vllm.json')); \
s = r['summary']; print(f\"3 episodes via vLLM: mean_steps={s['mean_steps']} \
invalid_action_rate={s['invalid_action_rate']}\")"
    return $rc
}

# -- one GRPO step with vLLM colocate ----------------------------------------------------------
check_grpo_vllm_step() {
    $PY -c 'import vllm, trl' 2>/dev/null || { echo "vllm or trl not installed: uv sync --extra grpo && uv pip install vllm"; return 77; }
    local model="$OUT_DIR/tiny-qwen2.5-vl"
    [[ -d "$model" ]] || $PY -c "from vrag_env.testing.tiny_models.qwen_vl import build_tiny_vlm; \
build_tiny_vlm('$model', arch='qwen2_5_vl', overwrite=True)" || return 1
    $PY agents/trl_grpo.py --config agents/configs/grpo_tiny_cpu.yaml --model "$model" \
        --output_dir "$OUT_DIR/grpo" --use_cpu false --dtype bfloat16 --use_vllm true \
        --vllm_mode colocate --vllm_gpu_memory_utilization 0.2 --max_steps 1 --save_steps 1000 \
        --per_device_train_batch_size 4 --num_generations 4 || return 1
    echo "one GRPO step with vLLM colocate finished"
}

# -- faiss-gpu against the CPU index -----------------------------------------------------------
check_faiss_gpu() {
    $PY - <<'PY'
import sys

import numpy as np

try:
    import faiss
except ImportError:
    print("faiss not installed: uv pip install faiss-gpu-cu12")
    sys.exit(77)
if not hasattr(faiss, "StandardGpuResources") or faiss.get_num_gpus() < 1:
    print("faiss has no GPU support here: uv pip install faiss-gpu-cu12")
    sys.exit(77)
rng = np.random.default_rng(0)
pages, tokens, dim = 2000, 64, 128  # page token vectors, as a multi-vector index stores them
vectors = rng.standard_normal((pages * tokens, dim)).astype("float32")
vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
queries = rng.standard_normal((32, dim)).astype("float32")
queries /= np.linalg.norm(queries, axis=1, keepdims=True)
cpu = faiss.IndexFlatIP(dim)
cpu.add(vectors)
gpu = faiss.index_cpu_to_gpu(faiss.StandardGpuResources(), 0, cpu)
d_cpu, i_cpu = cpu.search(queries, 256)
d_gpu, i_gpu = gpu.search(queries, 256)
assert np.allclose(d_cpu, d_gpu, atol=1e-4), "scores differ"
# MaxSim page ranking over the candidates, CPU ids vs GPU ids.
def rank(ids, dists):
    best = {}
    for q in range(ids.shape[0]):
        per_page = {}
        for t, s in zip(ids[q], dists[q]):
            p = int(t) // tokens
            per_page[p] = max(per_page.get(p, -1.0), float(s))
        for p, s in per_page.items():
            best[p] = best.get(p, 0.0) + s
    return [p for p, _ in sorted(best.items(), key=lambda x: (-round(x[1], 4), x[0]))[:10]]
assert rank(i_cpu, d_cpu) == rank(i_gpu, d_gpu), "page rankings differ"
print(f"faiss-gpu top-256 over {pages * tokens} token vectors matches the CPU index (top-10 pages equal)")
PY
}

# -- env steps/s on this machine ---------------------------------------------------------------
check_env_steps() {
    $PY -m benchmarks.env_perf --quick --out "$OUT_DIR/env_perf.json" >/dev/null || return 1
    $PY -c "import json; r = json.load(open('$OUT_DIR/env_perf.json')); \
print(f\"best {r['steps_per_s_best']} steps/s ({r['steps_per_s_best_setting']}), \
reference {r['reference_steps_per_s']}, search p50 {r['search_ms_p50']} ms, crop p50 {r['crop_ms_p50']} ms\")"
}

export -f check_vllm_generation check_grpo_vllm_step check_faiss_gpu check_env_steps
for name in "${ALL_CHECKS[@]}"; do
    run_check "$name"
done
write_summary "$GPU_NAME"
for status in "${STATUSES[@]}"; do
    [[ "$status" == fail ]] && exit 1
done
exit 0
