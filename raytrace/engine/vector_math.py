"""What a vectorised loop needs and numba does not give it: a logarithm (numba calls libm for `math.log`, and a loop
with a call stays scalar: numba here has no vector maths library), a vector gather (LLVM emits none for a loop that
gathers and stores), a floor that stays a float, a plain copy between arrays (a copy loop compiles to a vector loop,
its run-time overlap check and two remainder loops) and a select (a conditional expression is a branch, which LLVM
must turn back into a select to vectorise the loop).
"""

from __future__ import annotations

import numba
from llvmlite import ir
from numba import types
from numba.extending import intrinsic


@intrinsic
def _bits(typingctx, x):
    """The bits of a float64 as an int64 (a bitcast, no instruction)."""

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))

    return types.int64(types.float64), codegen


@intrinsic
def _from_bits(typingctx, bits):
    """The float64 whose bits these are."""

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return types.float64(types.int64), codegen


# The reduction and minimax coefficients of fdlibm's e_log.c (Sun Microsystems, 1993; also FreeBSD's msun):
# log(1 + f) = f - f^2 / 2 + s (f^2 / 2 + R(s^2)) with s = f / (2 + f), R(z) = LG1 z + ... + LG7 z^7.
_LG1, _LG2, _LG3, _LG4 = (
    6.666666666666735130e-01,
    3.999999999940941908e-01,
    2.857142874366239149e-01,
    2.222219843214978396e-01,
)
_LG5, _LG6, _LG7 = 1.818357216161805012e-01, 1.531383769920937332e-01, 1.479819860511658591e-01
_LN2_HI, _LN2_LO = 6.93147180369123816490e-01, 1.90821492927058770002e-10  # ln 2 = hi + lo, hi with 32 bits zero


@numba.njit(cache=True, no_cfunc_wrapper=True, error_model="numpy")
def log(x):
    """The natural logarithm of a positive, normal, finite x, within 1 ulp of the exact value (libm's within about
    0.5; the two differ by 1 ulp for about 2.5 % of arguments), without branches.

    x = 2^k (1 + f) with 1 + f within about sqrt(2) / 2 .. sqrt(2), split from its bits, and log x = k ln 2 +
    log(1 + f). Zero, negative, subnormal, infinite and NaN arguments give meaningless numbers: callers keep them out.
    """
    bits = _bits(x)
    high = bits >> 32
    k = (high >> 20) - 1023
    mantissa = high & 0xFFFFF
    # 2^20 if the mantissa's top 20 bits reach 0x6A09C (sqrt(2)'s are 0x6A09E): then 1 + f is the mantissa / 2
    above = (mantissa + 0x95F64) & 0x100000
    k += above >> 20
    f = _from_bits(((mantissa | (above ^ 0x3FF00000)) << 32) | (bits & 0xFFFFFFFF)) - 1.0
    s = f / (2.0 + f)
    z = s * s
    w = z * z
    r = z * (_LG1 + w * (_LG3 + w * (_LG5 + w * _LG7))) + w * (_LG2 + w * (_LG4 + w * _LG6))
    half_f2 = 0.5 * f * f
    dk = float(k)
    return dk * _LN2_HI - ((half_f2 - (s * (half_f2 + r) + dk * _LN2_LO)) - f)


GATHER_LANES = 8


@numba.njit(cache=True, inline="always")
def gathered_lanes(n):
    """n rounded up to whole gathers: the lanes a loop of `gather`s over n lanes covers."""
    return (n + GATHER_LANES - 1) // GATHER_LANES * GATHER_LANES


@intrinsic
def gather(typingctx, values, indices, first_index, out, first_out):
    """out[first_out + j] = values[indices[first_index + j]] for j < GATHER_LANES, one vector gather (LLVM's
    masked.gather: AVX2's or AVX-512's gather instruction, or scalar loads where there is none).

    LLVM does not vectorise a loop that gathers by a computed index and stores, as it cannot tell the gathered
    addresses from the stored ones; the caller vouches that they do not overlap. `values` and `out` hold the same
    type, `indices` int64, all three C-contiguous (`values` of any dimension, indexed as if flat); no bounds are
    checked."""
    if (
        values.dtype != out.dtype
        or indices.dtype != types.int64
        or {values.layout, indices.layout, out.layout} != {"C"}
    ):
        return None

    def codegen(context, builder, signature, args):
        values_array = context.make_array(signature.args[0])(context, builder, args[0])
        index_array = context.make_array(signature.args[1])(context, builder, args[1])
        out_array = context.make_array(signature.args[3])(context, builder, args[3])
        element = context.get_value_type(signature.args[0].dtype)
        i64, i32 = ir.IntType(64), ir.IntType(32)
        index_vector, value_vector = ir.VectorType(i64, GATHER_LANES), ir.VectorType(element, GATHER_LANES)
        pointer_vector = ir.VectorType(element.as_pointer(), GATHER_LANES)
        mask_vector = ir.VectorType(ir.IntType(1), GATHER_LANES)
        index = builder.load(
            builder.bitcast(builder.gep(index_array.data, [args[2]]), index_vector.as_pointer()), align=8
        )
        base = builder.insert_element(
            ir.Constant(index_vector, ir.Undefined), builder.ptrtoint(values_array.data, i64), ir.Constant(i32, 0)
        )
        base = builder.shuffle_vector(
            base,
            ir.Constant(index_vector, ir.Undefined),
            ir.Constant(ir.VectorType(i32, GATHER_LANES), [0] * GATHER_LANES),
        )
        size = context.get_abi_sizeof(element)
        offsets = builder.mul(index, ir.Constant(index_vector, [size] * GATHER_LANES))
        pointers = builder.inttoptr(builder.add(base, offsets), pointer_vector)
        # the overloaded intrinsic's name, mangled from its types by llvmlite (typed or opaque pointers, as it emits)
        values_name, pointers_name = (f"v{GATHER_LANES}{t.intrinsic_name}" for t in (element, element.as_pointer()))
        gather_function = builder.module.declare_intrinsic(
            f"llvm.masked.gather.{values_name}.{pointers_name}",
            fnty=ir.FunctionType(value_vector, [pointer_vector, i32, mask_vector, value_vector]),
        )
        gathered = builder.call(
            gather_function,
            [
                pointers,
                ir.Constant(i32, size),
                ir.Constant(mask_vector, [1] * GATHER_LANES),
                ir.Constant(value_vector, ir.Undefined),
            ],
        )
        builder.store(
            gathered, builder.bitcast(builder.gep(out_array.data, [args[4]]), value_vector.as_pointer()), align=size
        )
        return context.get_dummy_value()

    return types.void(values, indices, first_index, out, first_out), codegen


@intrinsic
def copy(typingctx, source, first_source, out, first_out, n):
    """out[first_out + j] = source[first_source + j] for j < n, by LLVM's memcpy: one call where a copy loop would
    bring a vector body, a run-time overlap check and remainder loops for LLVM to optimise and compile. The caller
    vouches that the two ranges do not overlap and lie within the arrays (no bounds are checked); `source` and `out`
    hold the same type, both C-contiguous (of any dimension, indexed as if flat)."""
    if source.dtype != out.dtype or {source.layout, out.layout} != {"C"}:
        return None

    def codegen(context, builder, signature, args):
        source_array = context.make_array(signature.args[0])(context, builder, args[0])
        out_array = context.make_array(signature.args[2])(context, builder, args[2])
        byte_pointer, i64 = ir.IntType(8).as_pointer(), ir.IntType(64)
        memcpy = builder.module.declare_intrinsic("llvm.memcpy", [byte_pointer, byte_pointer, i64])
        size = context.get_abi_sizeof(context.get_value_type(signature.args[0].dtype))
        builder.call(
            memcpy,
            [
                builder.bitcast(builder.gep(out_array.data, [args[3]]), byte_pointer),
                builder.bitcast(builder.gep(source_array.data, [args[1]]), byte_pointer),
                builder.mul(args[4], ir.Constant(i64, size)),
                ir.Constant(ir.IntType(1), 0),
            ],
        )
        return context.get_dummy_value()

    return types.void(source, types.int64, out, types.int64, types.int64), codegen


@intrinsic
def select(typingctx, condition, if_true, if_false):
    """`if_true if condition else if_false` as one LLVM select, both evaluated: a conditional expression is two blocks
    and a branch that numba types and lowers and LLVM turns back into a select (and keeps as a branch, which stops
    vectorisation, where one side loads from memory). `condition` a boolean, the result of the two's common type."""
    result = typingctx.unify_types(if_true, if_false)
    if result is None or not isinstance(condition, types.Boolean):
        return None
    result = types.unliteral(result)

    def codegen(context, builder, signature, args):
        return builder.select(
            args[0],
            context.cast(builder, args[1], signature.args[1], result),
            context.cast(builder, args[2], signature.args[2], result),
        )

    return result(condition, if_true, if_false), codegen


@intrinsic
def floor(typingctx, x):
    """math.floor(x) as a float, by LLVM's floor intrinsic (one vector instruction): numba's math.floor gives an int,
    whose conversions back and forth cost more than the floor itself in a vectorised loop."""

    def codegen(context, builder, signature, args):
        function = builder.module.declare_intrinsic("llvm.floor", [ir.DoubleType()])
        return builder.call(function, [args[0]])

    return types.float64(types.float64), codegen


if numba.config.DISABLE_JIT:  # NUMBA_DISABLE_JIT=1, the debugging route: each intrinsic by its plain Python meaning
    import math

    import numpy as np

    def _bits(x):  # noqa: F811
        return int(np.float64(x).view(np.int64))

    def _from_bits(bits):  # noqa: F811
        return float(np.array([bits & 0xFFFFFFFFFFFFFFFF], dtype=np.uint64).view(np.float64)[0])

    def gather(values, indices, first_index, out, first_out):  # noqa: F811
        flat_out, flat_values, flat_indices = out.reshape(-1), values.reshape(-1), indices.reshape(-1)
        for j in range(GATHER_LANES):
            flat_out[first_out + j] = flat_values[flat_indices[first_index + j]]

    def copy(source, first_source, out, first_out, n):  # noqa: F811
        out.reshape(-1)[first_out : first_out + n] = source.reshape(-1)[first_source : first_source + n]

    def select(condition, if_true, if_false):  # noqa: F811
        return if_true if condition else if_false

    def floor(x):  # noqa: F811
        return float(math.floor(x))
