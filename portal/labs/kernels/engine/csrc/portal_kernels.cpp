// The suite's C++ operators, registered with the PyTorch dispatcher as
// portal_kernels::{vector_add,softmax,layer_norm}. The schemas live here, the
// CPU kernels too; portal_kernels_cuda.cu adds CUDA kernels for the same ops,
// and engine/ops.py registers the fake (meta) implementations that let
// torch.compile trace them without running them.
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>
#include <torch/library.h>
#include <torch/types.h>

#include <cmath>
#include <limits>

namespace portal_kernels {

at::Tensor vector_add_cpu(const at::Tensor& a, const at::Tensor& b) {
  TORCH_CHECK(a.sizes() == b.sizes(), "vector_add: shapes differ");
  TORCH_CHECK(a.scalar_type() == b.scalar_type(), "vector_add: dtypes differ");
  TORCH_CHECK(a.device().is_cpu() && b.device().is_cpu(), "vector_add: CPU tensors expected");
  at::Tensor ac = a.contiguous(), bc = b.contiguous();
  at::Tensor out = at::empty_like(ac);
  const int64_t n = ac.numel();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, ac.scalar_type(), "vector_add_cpu", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    const scalar_t* pa = ac.const_data_ptr<scalar_t>();
    const scalar_t* pb = bc.const_data_ptr<scalar_t>();
    scalar_t* po = out.mutable_data_ptr<scalar_t>();
    at::parallel_for(0, n, 1 << 15, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        po[i] = static_cast<scalar_t>(static_cast<acc_t>(pa[i]) + static_cast<acc_t>(pb[i]));
      }
    });
  });
  return out;
}

at::Tensor softmax_cpu(const at::Tensor& x) {
  TORCH_CHECK(x.dim() == 2, "softmax: a 2-D tensor expected (softmax over the last dim)");
  TORCH_CHECK(x.device().is_cpu(), "softmax: a CPU tensor expected");
  at::Tensor xc = x.contiguous();
  at::Tensor out = at::empty_like(xc);
  const int64_t rows = xc.size(0), cols = xc.size(1);
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, xc.scalar_type(), "softmax_cpu", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    const scalar_t* px = xc.const_data_ptr<scalar_t>();
    scalar_t* po = out.mutable_data_ptr<scalar_t>();
    at::parallel_for(0, rows, 1, [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) {
        const scalar_t* row = px + r * cols;
        scalar_t* orow = po + r * cols;
        // Online softmax (Milakov & Gimelshein): one pass for max and sum.
        acc_t m = -std::numeric_limits<acc_t>::infinity();
        acc_t s = 0;
        for (int64_t c = 0; c < cols; ++c) {
          const acc_t v = static_cast<acc_t>(row[c]);
          if (v > m) {
            s = s * std::exp(m - v) + acc_t(1);
            m = v;
          } else {
            s += std::exp(v - m);
          }
        }
        const acc_t inv = acc_t(1) / s;
        for (int64_t c = 0; c < cols; ++c) {
          orow[c] = static_cast<scalar_t>(std::exp(static_cast<acc_t>(row[c]) - m) * inv);
        }
      }
    });
  });
  return out;
}

at::Tensor layer_norm_cpu(const at::Tensor& x, const at::Tensor& weight, const at::Tensor& bias,
                          double eps) {
  TORCH_CHECK(x.dim() == 2, "layer_norm: a 2-D tensor expected (normalised over the last dim)");
  TORCH_CHECK(x.device().is_cpu(), "layer_norm: a CPU tensor expected");
  TORCH_CHECK(weight.numel() == x.size(1) && bias.numel() == x.size(1),
              "layer_norm: weight and bias must have x.size(1) elements");
  at::Tensor xc = x.contiguous(), wc = weight.contiguous(), bc = bias.contiguous();
  at::Tensor out = at::empty_like(xc);
  const int64_t rows = xc.size(0), cols = xc.size(1);
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, xc.scalar_type(), "layer_norm_cpu", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    const scalar_t* px = xc.const_data_ptr<scalar_t>();
    const scalar_t* pw = wc.const_data_ptr<scalar_t>();
    const scalar_t* pb = bc.const_data_ptr<scalar_t>();
    scalar_t* po = out.mutable_data_ptr<scalar_t>();
    at::parallel_for(0, rows, 1, [&](int64_t begin, int64_t end) {
      for (int64_t r = begin; r < end; ++r) {
        const scalar_t* row = px + r * cols;
        scalar_t* orow = po + r * cols;
        acc_t sum = 0;
        for (int64_t c = 0; c < cols; ++c) sum += static_cast<acc_t>(row[c]);
        const acc_t mean = sum / static_cast<acc_t>(cols);
        acc_t sq = 0;  // two passes: sum of squares about the mean does not cancel
        for (int64_t c = 0; c < cols; ++c) {
          const acc_t d = static_cast<acc_t>(row[c]) - mean;
          sq += d * d;
        }
        const acc_t rstd = acc_t(1) / std::sqrt(sq / static_cast<acc_t>(cols) + static_cast<acc_t>(eps));
        for (int64_t c = 0; c < cols; ++c) {
          const acc_t y = (static_cast<acc_t>(row[c]) - mean) * rstd * static_cast<acc_t>(pw[c]) +
                          static_cast<acc_t>(pb[c]);
          orow[c] = static_cast<scalar_t>(y);
        }
      }
    });
  });
  return out;
}

TORCH_LIBRARY(portal_kernels, m) {
  m.def("vector_add(Tensor a, Tensor b) -> Tensor");
  m.def("softmax(Tensor x) -> Tensor");
  m.def("layer_norm(Tensor x, Tensor weight, Tensor bias, float eps) -> Tensor");
}

TORCH_LIBRARY_IMPL(portal_kernels, CPU, m) {
  m.impl("vector_add", &vector_add_cpu);
  m.impl("softmax", &softmax_cpu);
  m.impl("layer_norm", &layer_norm_cpu);
}

}  // namespace portal_kernels
