package org.attn4j.backend.ort;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.OptionalDouble;

/**
 * Builds a one-node ONNX model in memory, so the backend needs no Python and no model files: an {@code Attention} node
 * (domain "", opset 23, or 24 when {@code nonpad_kv_seqlen} is used) with 4-D inputs {@code Q [B, Hq, Lq, D]},
 * {@code K [B, Hkv, Lk, D]}, {@code V [B, Hkv, Lk, Dv]}, an optional {@code attn_mask} (bool or float, of the rank the
 * caller's mask or bias has) and output {@code Y [B, Hq, Lq, Dv]}; every dimension is symbolic. With 4-D inputs the
 * op reads the head counts from the shapes (GQA when {@code Hq != Hkv}).
 *
 * <p>Adapted from bench's {@code OnnxModels} (the bench peer); this module does not depend on bench. Serialised with
 * a tiny protobuf writer; field numbers are those of {@code onnx/onnx.proto}: ModelProto {ir_version 1,
 * producer_name 2, graph 7, opset_import 8}, OperatorSetIdProto {domain 1, version 2}, GraphProto {node 1, name 2,
 * input 11, output 12}, NodeProto {input 1, output 2, name 3, op_type 4, attribute 5, domain 7}, AttributeProto
 * {name 1, f 2, i 3, type 20 (FLOAT 1, INT 2)}, ValueInfoProto {name 1, type 2}, TypeProto {tensor_type 1},
 * TypeProto.Tensor {elem_type 1, shape 2}, TensorShapeProto {dim 1}, Dimension {dim_value 1, dim_param 2}.
 */
final class OnnxAttentionModel {
    /** ORT 1.24 reads IR versions up to 11. */
    static final int IR_VERSION = 10;
    private static final int FLOAT = 1;
    private static final int BOOL = 9;
    private static final int INT64 = 7;

    /** What the {@code attn_mask} input carries. */
    enum MaskKind {
        NONE, BOOL, FLOAT
    }

    /**
     * @param causal   {@code is_causal} (ONNX: top-left diagonal when there is no past_key and no nonpad_kv_seqlen)
     * @param scale    the {@code scale} attribute, or empty for the op's default {@code 1/sqrt(D)}
     * @param softcap  the {@code softcap} attribute, 0 for none
     * @param mask     what {@code attn_mask} is
     * @param maskRank the rank of {@code attn_mask} (1..4) when there is one
     * @param nonpad   whether {@code nonpad_kv_seqlen [B]} (int64, opset 24) is an input
     */
    record Options(boolean causal, OptionalDouble scale, double softcap, MaskKind mask, int maskRank, boolean nonpad) {
        int opset() {
            return nonpad ? 24 : 23;
        }
    }

    private OnnxAttentionModel() {
    }

    static byte[] attention(Options o) {
        Proto node = new Proto().string(1, "Q").string(1, "K").string(1, "V");
        // Optional inputs are positional: attn_mask 3, past_key 4, past_value 5, nonpad_kv_seqlen 6; "" = absent.
        if (o.mask() != MaskKind.NONE || o.nonpad()) node.string(1, o.mask() != MaskKind.NONE ? "attn_mask" : "");
        if (o.nonpad()) node.string(1, "").string(1, "").string(1, "nonpad_kv_seqlen");
        node.string(2, "Y")
                .string(3, "attention")
                .string(4, "Attention")
                .string(7, "")
                .message(5, new Proto().string(1, "is_causal").varint(3, o.causal() ? 1 : 0).varint(20, 2));
        if (o.scale().isPresent()) {
            node.message(5, new Proto().string(1, "scale").float32(2, (float) o.scale().getAsDouble()).varint(20, 1));
        }
        if (o.softcap() > 0) {
            node.message(5, new Proto().string(1, "softcap").float32(2, (float) o.softcap()).varint(20, 1));
        }
        Proto graph = new Proto()
                .message(1, node)
                .string(2, "attn4j_onnxruntime_attention")
                .message(11, tensor("Q", FLOAT, "B", "Hq", "Lq", "D"))
                .message(11, tensor("K", FLOAT, "B", "Hkv", "Lk", "D"))
                .message(11, tensor("V", FLOAT, "B", "Hkv", "Lk", "Dv"));
        if (o.mask() != MaskKind.NONE) {
            String[] dims = new String[o.maskRank()];
            for (int i = 0; i < dims.length; i++) dims[i] = "M" + i;
            graph.message(11, tensor("attn_mask", o.mask() == MaskKind.BOOL ? BOOL : FLOAT, dims));
        }
        if (o.nonpad()) graph.message(11, tensor("nonpad_kv_seqlen", INT64, "B"));
        graph.message(12, tensor("Y", FLOAT, "B", "Hq", "Lq", "Dv"));
        return new Proto()
                .varint(1, IR_VERSION)
                .string(2, "attn4j-backend-onnxruntime")
                .message(7, graph)
                .message(8, new Proto().string(1, "").varint(2, o.opset()))
                .bytes();
    }

    /** A tensor ValueInfoProto with symbolic dimensions. */
    private static Proto tensor(String name, int elemType, String... dims) {
        Proto shape = new Proto();
        for (String d : dims) shape.message(1, new Proto().string(2, d));
        Proto tensorType = new Proto().varint(1, elemType).message(2, shape);
        return new Proto().string(1, name).message(2, new Proto().message(1, tensorType));
    }

    /** A protobuf message being written: fields in call order. Wire types: 0 varint, 2 length-delimited, 5 fixed32. */
    private static final class Proto {
        private final ByteArrayOutputStream out = new ByteArrayOutputStream();

        Proto varint(int field, long value) {
            tag(field, 0);
            writeVarint(value);
            return this;
        }

        Proto float32(int field, float value) {
            tag(field, 5);
            int bits = Float.floatToIntBits(value);
            for (int i = 0; i < 4; i++) out.write(bits >>> (8 * i)); // little-endian
            return this;
        }

        Proto string(int field, String value) {
            return lengthDelimited(field, value.getBytes(StandardCharsets.UTF_8));
        }

        Proto message(int field, Proto value) {
            return lengthDelimited(field, value.bytes());
        }

        byte[] bytes() {
            return out.toByteArray();
        }

        private Proto lengthDelimited(int field, byte[] value) {
            tag(field, 2);
            writeVarint(value.length);
            out.writeBytes(value);
            return this;
        }

        private void tag(int field, int wireType) {
            writeVarint(((long) field << 3) | wireType);
        }

        private void writeVarint(long v) {
            while ((v & ~0x7FL) != 0) {
                out.write((int) ((v & 0x7F) | 0x80));
                v >>>= 7;
            }
            out.write((int) v);
        }
    }
}
