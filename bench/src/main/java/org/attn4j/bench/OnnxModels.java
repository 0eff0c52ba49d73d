package org.attn4j.bench;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.OptionalDouble;

/**
 * Builds ONNX models in memory, so the peer needs no Python and no model files: one {@code Attention} node
 * (opset 23, domain "") with 4-D inputs {@code Q [B, Hq, Lq, D]}, {@code K [B, Hkv, Lk, D]}, {@code V [B, Hkv, Lk, Dv]}
 * and output {@code Y [B, Hq, Lq, Dv]}, every dimension symbolic. With 4-D inputs the op reads the head counts from
 * the shapes (GQA when {@code Hq != Hkv}), so no {@code q_num_heads}/{@code kv_num_heads} attributes are needed.
 *
 * <p>Serialised with a tiny protobuf writer; message and field numbers are those of {@code onnx/onnx.proto}:
 * ModelProto {ir_version 1, producer_name 2, graph 7, opset_import 8}, OperatorSetIdProto {domain 1, version 2},
 * GraphProto {node 1, name 2, input 11, output 12}, NodeProto {input 1, output 2, name 3, op_type 4, attribute 5,
 * domain 7}, AttributeProto {name 1, f 2, i 3, type 20 (FLOAT 1, INT 2)}, ValueInfoProto {name 1, type 2},
 * TypeProto {tensor_type 1}, TypeProto.Tensor {elem_type 1 (FLOAT = 1), shape 2}, TensorShapeProto {dim 1},
 * Dimension {dim_value 1, dim_param 2}.
 */
public final class OnnxModels {
    /** ORT 1.24 reads IR versions up to 11; 10 is what the peer's Python models used. */
    public static final int IR_VERSION = 10;
    public static final int OPSET = 23;
    /** TensorProto.DataType numbers: FLOAT 1, FLOAT16 10, BFLOAT16 16. */
    public static final int FLOAT = 1, FLOAT16 = 10, BFLOAT16 = 16;

    private OnnxModels() {
    }

    /**
     * An {@code Attention}-23 model.
     *
     * @param causal {@code is_causal}: ONNX aligns the diagonal top-left, so decoding uses a non-causal model over the
     *               whole cache
     * @param scale  the {@code scale} attribute, or empty for the op's default {@code 1/sqrt(D)}
     */
    public static byte[] attention(boolean causal, OptionalDouble scale) {
        return attention(causal, scale, FLOAT);
    }

    /** The same model with Q, K, V and Y of element type {@code elemType} ({@link #FLOAT16}, {@link #BFLOAT16}). */
    public static byte[] attention(boolean causal, OptionalDouble scale, int elemType) {
        Proto node = new Proto()
                .string(1, "Q").string(1, "K").string(1, "V")
                .string(2, "Y")
                .string(3, "attention")
                .string(4, "Attention")
                .string(7, "")
                .message(5, new Proto().string(1, "is_causal").varint(3, causal ? 1 : 0).varint(20, 2));
        if (scale.isPresent()) {
            node.message(5, new Proto().string(1, "scale").float32(2, (float) scale.getAsDouble()).varint(20, 1));
        }
        Proto graph = new Proto()
                .message(1, node)
                .string(2, "attn4j_peer_attention")
                .message(11, tensor(elemType, "Q", "B", "Hq", "Lq", "D"))
                .message(11, tensor(elemType, "K", "B", "Hkv", "Lk", "D"))
                .message(11, tensor(elemType, "V", "B", "Hkv", "Lk", "Dv"))
                .message(12, tensor(elemType, "Y", "B", "Hq", "Lq", "Dv"));
        return new Proto()
                .varint(1, IR_VERSION)
                .string(2, "attn4j-bench")
                .message(7, graph)
                .message(8, new Proto().string(1, "").varint(2, OPSET))
                .bytes();
    }

    /** A tensor ValueInfoProto of element type {@code elemType} with symbolic dimensions. */
    private static Proto tensor(int elemType, String name, String... dims) {
        Proto shape = new Proto();
        for (String d : dims) shape.message(1, new Proto().string(2, d));
        Proto tensorType = new Proto().varint(1, elemType).message(2, shape);
        return new Proto().string(1, name).message(2, new Proto().message(1, tensorType));
    }

    /**
     * A protobuf message being written: fields in call order, each {@code (field << 3) | wire type} then the value.
     * Wire types used: 0 varint, 2 length-delimited, 5 fixed32.
     */
    static final class Proto {
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
