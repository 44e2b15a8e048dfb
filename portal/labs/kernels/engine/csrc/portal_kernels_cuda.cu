// CUDA kernels for the portal_kernels ops declared in portal_kernels.cpp.
// Built only where nvcc and a CUDA build of PyTorch exist.
#include <ATen/OpMathType.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <torch/library.h>
#include <torch/types.h>

#include <cuda_runtime.h>

namespace portal_kernels {
namespace {

constexpr int kThreads = 512;

template <typename T>
__device__ __forceinline__ T warp_sum(T v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

template <typename T>
__device__ __forceinline__ T warp_max(T v) {
  for (int o = 16; o > 0; o >>= 1) v = max(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// Reduce over the block; every thread gets the result. `shared` holds 32 values.
template <typename T, bool kMax>
__device__ T block_reduce(T v, T* shared) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  v = kMax ? warp_max(v) : warp_sum(v);
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  const int warps = blockDim.x >> 5;
  const T identity = kMax ? -INFINITY : T(0);
  v = threadIdx.x < warps ? shared[threadIdx.x] : identity;
  if (warp == 0) v = kMax ? warp_max(v) : warp_sum(v);
  if (threadIdx.x == 0) shared[0] = v;
  __syncthreads();
  v = shared[0];
  __syncthreads();
  return v;
}

template <typename scalar_t>
__global__ void vector_add_kernel(const scalar_t* __restrict__ a, const scalar_t* __restrict__ b,
                                  scalar_t* __restrict__ out, int64_t n) {
  using acc_t = at::opmath_type<scalar_t>;
  const int64_t stride = static_cast<int64_t>(blockDim.x) * gridDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += stride) {
    out[i] = static_cast<scalar_t>(static_cast<acc_t>(a[i]) + static_cast<acc_t>(b[i]));
  }
}

template <typename scalar_t>
__global__ void softmax_kernel(const scalar_t* __restrict__ x, scalar_t* __restrict__ out,
                               int64_t cols) {
  using acc_t = at::opmath_type<scalar_t>;
  __shared__ acc_t shared[32];
  const scalar_t* row = x + static_cast<int64_t>(blockIdx.x) * cols;
  scalar_t* orow = out + static_cast<int64_t>(blockIdx.x) * cols;
  acc_t m = -INFINITY, s = 0;
  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
    const acc_t v = static_cast<acc_t>(row[c]);
    if (v > m) {
      s = s * exp(m - v) + acc_t(1);
      m = v;
    } else {
      s += exp(v - m);
    }
  }
  const acc_t row_max = block_reduce<acc_t, true>(m, shared);
  const acc_t mine = (m == -INFINITY) ? acc_t(0) : s * exp(m - row_max);
  const acc_t inv = acc_t(1) / block_reduce<acc_t, false>(mine, shared);
  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
    orow[c] = static_cast<scalar_t>(exp(static_cast<acc_t>(row[c]) - row_max) * inv);
  }
}

template <typename scalar_t>
__global__ void layer_norm_kernel(const scalar_t* __restrict__ x, const scalar_t* __restrict__ w,
                                  const scalar_t* __restrict__ b, scalar_t* __restrict__ out,
                                  int64_t cols, double eps) {
  using acc_t = at::opmath_type<scalar_t>;
  __shared__ acc_t shared[32];
  const scalar_t* row = x + static_cast<int64_t>(blockIdx.x) * cols;
  scalar_t* orow = out + static_cast<int64_t>(blockIdx.x) * cols;
  acc_t sum = 0;
  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) sum += static_cast<acc_t>(row[c]);
  const acc_t mean = block_reduce<acc_t, false>(sum, shared) / static_cast<acc_t>(cols);
  acc_t sq = 0;
  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
    const acc_t d = static_cast<acc_t>(row[c]) - mean;
    sq += d * d;
  }
  const acc_t var = block_reduce<acc_t, false>(sq, shared) / static_cast<acc_t>(cols);
  const acc_t rstd = acc_t(1) / sqrt(var + static_cast<acc_t>(eps));
  for (int64_t c = threadIdx.x; c < cols; c += blockDim.x) {
    const acc_t y = (static_cast<acc_t>(row[c]) - mean) * rstd * static_cast<acc_t>(w[c]) +
                    static_cast<acc_t>(b[c]);
    orow[c] = static_cast<scalar_t>(y);
  }
}

}  // namespace

at::Tensor vector_add_cuda(const at::Tensor& a, const at::Tensor& b) {
  TORCH_CHECK(a.sizes() == b.sizes() && a.scalar_type() == b.scalar_type(), "vector_add: mismatch");
  TORCH_CHECK(a.is_cuda() && b.is_cuda(), "vector_add: CUDA tensors expected");
  const c10::cuda::CUDAGuard guard(a.device());
  at::Tensor ac = a.contiguous(), bc = b.contiguous();
  at::Tensor out = at::empty_like(ac);
  const int64_t n = ac.numel();
  if (n == 0) return out;
  int sms = 0;
  C10_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, a.get_device()));
  const int64_t want = (n + 255) / 256;
  const int blocks = static_cast<int>(std::min<int64_t>(want, static_cast<int64_t>(sms) * 32));
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, ac.scalar_type(), "vector_add_cuda", [&] {
    vector_add_kernel<scalar_t><<<blocks, 256, 0, c10::cuda::getCurrentCUDAStream()>>>(
        ac.const_data_ptr<scalar_t>(), bc.const_data_ptr<scalar_t>(),
        out.mutable_data_ptr<scalar_t>(), n);
  });
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  return out;
}

at::Tensor softmax_cuda(const at::Tensor& x) {
  TORCH_CHECK(x.dim() == 2 && x.is_cuda(), "softmax: a 2-D CUDA tensor expected");
  const c10::cuda::CUDAGuard guard(x.device());
  at::Tensor xc = x.contiguous();
  at::Tensor out = at::empty_like(xc);
  if (xc.numel() == 0) return out;
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, xc.scalar_type(), "softmax_cuda", [&] {
    softmax_kernel<scalar_t><<<xc.size(0), kThreads, 0, c10::cuda::getCurrentCUDAStream()>>>(
        xc.const_data_ptr<scalar_t>(), out.mutable_data_ptr<scalar_t>(), xc.size(1));
  });
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  return out;
}

at::Tensor layer_norm_cuda(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias,
                           double eps) {
  TORCH_CHECK(x.dim() == 2 && x.is_cuda(), "layer_norm: a 2-D CUDA tensor expected");
  TORCH_CHECK(weight.numel() == x.size(1) && bias.numel() == x.size(1),
              "layer_norm: weight and bias must have x.size(1) elements");
  const c10::cuda::CUDAGuard guard(x.device());
  at::Tensor xc = x.contiguous(), wc = weight.contiguous(), bc = bias.contiguous();
  at::Tensor out = at::empty_like(xc);
  if (xc.numel() == 0) return out;
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, xc.scalar_type(), "layer_norm_cuda", [&] {
    layer_norm_kernel<scalar_t><<<xc.size(0), kThreads, 0, c10::cuda::getCurrentCUDAStream()>>>(
        xc.const_data_ptr<scalar_t>(), wc.const_data_ptr<scalar_t>(), bc.const_data_ptr<scalar_t>(),
        out.mutable_data_ptr<scalar_t>(), xc.size(1), eps);
  });
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  return out;
}

TORCH_LIBRARY_IMPL(portal_kernels, CUDA, m) {
  m.impl("vector_add", &vector_add_cuda);
  m.impl("softmax", &softmax_cuda);
  m.impl("layer_norm", &layer_norm_cuda);
}

}  // namespace portal_kernels
