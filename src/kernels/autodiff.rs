//! `Kernels` for `Autodiff<B>`: one graph node per fused op, whose backward step calls the inner
//! backend's `*_backward` kernel (the pattern of burn 0.21's `burn-autodiff/src/ops/tensor.rs`).
//! Inner backends without fused kernels (`FUSED = false`) differentiate the composite code.
//!
//! Each node keeps the inner primitives its backward needs as its state: the op's input (and
//! for attention its output and log-sum-exp, `[batch, heads, seq]`, instead of the
//! `[batch, heads, seq, seq]` probabilities the composite graph keeps).

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{unary, Backward, Ops, OpsKind};
use burn::backend::autodiff::NodeId;
use burn::backend::Autodiff;
use burn::prelude::*;
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::ops::{FloatTensor, IntTensor};

use super::{composite, float, AttentionSpec, Kernels, LinearGrads, NormSpec};

#[derive(Debug)]
struct AttentionBackward;

impl<B: Kernels> Backward<B, 1> for AttentionBackward {
    /// (qkv, out, lse, spec)
    type State = (FloatTensor<B>, FloatTensor<B>, FloatTensor<B>, AttentionSpec);

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let (qkv, out, lse, spec) = ops.state;
        unary::<B, _>(ops.parents, ops.node, grads, |dout| B::attention_backward(qkv, out, lse, dout, spec));
    }
}

#[derive(Debug)]
struct NormBackward;

impl<B: Kernels> Backward<B, 1> for NormBackward {
    type State = (FloatTensor<B>, NormSpec);

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let (x, spec) = ops.state;
        unary::<B, _>(ops.parents, ops.node, grads, |dy| B::norm_backward(x, None, dy, spec).0);
    }
}

#[derive(Debug)]
struct ScaledNormBackward;

impl<B: Kernels> Backward<B, 2> for ScaledNormBackward {
    /// (x, weight, spec)
    type State = (FloatTensor<B>, FloatTensor<B>, NormSpec);

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let (x, w, spec) = ops.state;
        // One kernel gives both gradients, so this does by hand what `binary` does per parent.
        let dy = grads.consume::<B>(&ops.node);
        let (dx, dw) = B::norm_backward(x, Some(w), dy, spec);
        let [x_node, w_node] = ops.parents;
        if let Some(node) = x_node {
            grads.register::<B>(node.id, dx);
        }
        if let (Some(node), Some(dw)) = (w_node, dw) {
            grads.register::<B>(node.id, dw);
        }
    }
}

#[derive(Debug)]
struct SwigluBackward;

impl<B: Kernels> Backward<B, 1> for SwigluBackward {
    type State = FloatTensor<B>;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let ff = ops.state;
        unary::<B, _>(ops.parents, ops.node, grads, |dout| B::swiglu_backward(ff, dout));
    }
}

#[derive(Debug)]
struct CrossEntropyBackward;

impl<B: Kernels> Backward<B, 1> for CrossEntropyBackward {
    /// The gradient of the loss with respect to the logits, computed in the forward pass.
    type State = FloatTensor<B>;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let dlogits = ops.state;
        // The upstream gradient is a `[1]` scalar: broadcast it over `[tokens, vocab]`.
        unary::<B, _>(ops.parents, ops.node, grads, |g| B::float_mul(dlogits, g));
    }
}

#[derive(Debug)]
struct SquaredErrorBackward;

impl<B: Kernels> Backward<B, 1> for SquaredErrorBackward {
    /// The gradient of the sum with respect to the prediction, computed in the forward pass.
    type State = FloatTensor<B>;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let dpred = ops.state;
        // The upstream gradient is a `[1]` scalar: broadcast it over `[n, d]`.
        unary::<B, _>(ops.parents, ops.node, grads, |g| B::float_mul(dpred, g));
    }
}

#[derive(Debug)]
struct ReluBatchNormBackward;

impl<B: Kernels> Backward<B, 1> for ReluBatchNormBackward {
    /// (z, mean, var, eps)
    type State = (FloatTensor<B>, FloatTensor<B>, FloatTensor<B>, f64);

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let (z, mean, var, eps) = ops.state;
        unary::<B, _>(ops.parents, ops.node, grads, |dy| B::relu_batch_norm_backward(z, mean, var, dy, eps));
    }
}

#[derive(Debug)]
struct LinearBackward;

impl<B: Kernels> Backward<B, 2> for LinearBackward {
    /// (x, weight)
    type State = (FloatTensor<B>, FloatTensor<B>);

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let (x, w) = ops.state;
        let dy = grads.consume::<B>(&ops.node);
        let [x_node, w_node] = ops.parents;
        let want = LinearGrads { x: x_node.is_some(), weight: w_node.is_some(), bias: false };
        let (dx, dw, _) = B::linear_backward(x, w, dy, want);
        register::<B>(grads, x_node.map(|n| n.id), dx);
        register::<B>(grads, w_node.map(|n| n.id), dw);
    }
}

#[derive(Debug)]
struct LinearBiasBackward;

impl<B: Kernels> Backward<B, 3> for LinearBiasBackward {
    /// (x, weight)
    type State = (FloatTensor<B>, FloatTensor<B>);

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let (x, w) = ops.state;
        let dy = grads.consume::<B>(&ops.node);
        let [x_node, w_node, b_node] = ops.parents;
        let want = LinearGrads { x: x_node.is_some(), weight: w_node.is_some(), bias: b_node.is_some() };
        let (dx, dw, db) = B::linear_backward(x, w, dy, want);
        register::<B>(grads, x_node.map(|n| n.id), dx);
        register::<B>(grads, w_node.map(|n| n.id), dw);
        register::<B>(grads, b_node.map(|n| n.id), db);
    }
}

/// Register `grad` for `node` when both exist (one kernel gives several parents' gradients, so
/// this does by hand what burn's `binary` does per parent).
fn register<B: Backend>(grads: &mut Gradients, node: Option<NodeId>, grad: Option<FloatTensor<B>>) {
    if let (Some(node), Some(grad)) = (node, grad) {
        grads.register::<B>(node, grad);
    }
}

impl<B: Kernels, C: CheckpointStrategy> Kernels for Autodiff<B, C> {
    fn linear(x: FloatTensor<Self>, weight: FloatTensor<Self>, bias: Option<FloatTensor<Self>>) -> FloatTensor<Self> {
        if !B::FUSED {
            return <Self as burn::tensor::ops::ModuleOps<Self>>::linear(x, weight, bias);
        }
        let y = B::linear_forward(x.primitive.clone(), weight.primitive.clone(), bias.as_ref().map(|b| b.primitive.clone()));
        match bias {
            None => match LinearBackward.prepare::<C>([x.node.clone(), weight.node.clone()]).compute_bound().stateful() {
                OpsKind::Tracked(prep) => prep.finish((x.primitive, weight.primitive), y),
                OpsKind::UnTracked(prep) => prep.finish(y),
            },
            Some(b) => match LinearBiasBackward.prepare::<C>([x.node.clone(), weight.node.clone(), b.node.clone()]).compute_bound().stateful() {
                OpsKind::Tracked(prep) => prep.finish((x.primitive, weight.primitive), y),
                OpsKind::UnTracked(prep) => prep.finish(y),
            },
        }
    }

    fn relu_batch_norm(z: FloatTensor<Self>, eps: f64) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        if !B::FUSED {
            return composite::relu_batch_norm_primitive::<Self>(z, eps);
        }
        let (y, mean, var) = B::relu_batch_norm_forward(z.primitive.clone(), eps);
        let stats = (
            <Self as AutodiffBackend>::from_inner(mean.clone()),
            <Self as AutodiffBackend>::from_inner(var.clone()),
        );
        let y = match ReluBatchNormBackward.prepare::<C>([z.node.clone()]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => prep.finish((z.primitive, mean, var, eps), y),
            OpsKind::UnTracked(prep) => prep.finish(y),
        };
        (y, stats.0, stats.1)
    }


    fn squared_error(pred: FloatTensor<Self>, target: FloatTensor<Self>) -> FloatTensor<Self> {
        if !B::FUSED || target.is_tracked() {
            return composite::squared_error_primitive::<Self>(pred, target).0;
        }
        let (node, tracked) = (pred.node.clone(), pred.is_tracked());
        let (sum, dpred) = B::squared_error_forward(pred.primitive, target.primitive, tracked);
        match SquaredErrorBackward.prepare::<C>([node]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => prep.finish(dpred.expect("a fused backend returns the gradient when asked"), sum),
            OpsKind::UnTracked(prep) => prep.finish(sum),
        }
    }

    fn causal_attention(qkv: FloatTensor<Self>, spec: AttentionSpec) -> FloatTensor<Self> {
        if !B::FUSED {
            return composite::causal_attention(float::<Self, 3>(qkv), spec).0.into_primitive().tensor();
        }
        let (out, lse) = B::attention_forward(qkv.primitive.clone(), spec);
        match AttentionBackward.prepare::<C>([qkv.node.clone()]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => prep.finish((qkv.primitive, out.clone(), lse, spec), out),
            OpsKind::UnTracked(prep) => prep.finish(out),
        }
    }

    fn norm(x: FloatTensor<Self>, weight: Option<FloatTensor<Self>>, spec: NormSpec) -> FloatTensor<Self> {
        if !B::FUSED {
            return composite::norm_primitive::<Self>(x, weight, spec);
        }
        match weight {
            None => {
                let y = B::norm_forward(x.primitive.clone(), None, spec);
                match NormBackward.prepare::<C>([x.node.clone()]).compute_bound().stateful() {
                    OpsKind::Tracked(prep) => prep.finish((x.primitive, spec), y),
                    OpsKind::UnTracked(prep) => prep.finish(y),
                }
            }
            Some(w) => {
                let y = B::norm_forward(x.primitive.clone(), Some(w.primitive.clone()), spec);
                match ScaledNormBackward.prepare::<C>([x.node.clone(), w.node.clone()]).compute_bound().stateful() {
                    OpsKind::Tracked(prep) => prep.finish((x.primitive, w.primitive, spec), y),
                    OpsKind::UnTracked(prep) => prep.finish(y),
                }
            }
        }
    }

    fn swiglu(ff: FloatTensor<Self>) -> FloatTensor<Self> {
        if !B::FUSED {
            return composite::swiglu_primitive::<Self>(ff);
        }
        let out = B::swiglu_forward(ff.primitive.clone());
        match SwigluBackward.prepare::<C>([ff.node.clone()]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => prep.finish(ff.primitive, out),
            OpsKind::UnTracked(prep) => prep.finish(out),
        }
    }

    fn masked_cross_entropy(logits: FloatTensor<Self>, targets: IntTensor<Self>, mask: FloatTensor<Self>) -> FloatTensor<Self> {
        if !B::FUSED {
            let loss = composite::masked_cross_entropy_sum(
                float::<Self, 2>(logits),
                Tensor::<Self, 1, Int>::from_primitive(targets),
                float::<Self, 1>(mask),
            );
            return loss.into_primitive().tensor();
        }
        let (node, tracked) = (logits.node.clone(), logits.is_tracked());
        let (loss, dlogits) = B::cross_entropy_forward(logits.primitive, targets, mask.primitive, tracked);
        match CrossEntropyBackward.prepare::<C>([node]).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let dlogits = dlogits.expect("a fused backend returns the gradient when asked");
                prep.finish(dlogits, loss)
            }
            OpsKind::UnTracked(prep) => prep.finish(loss),
        }
    }
}
